using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace RewardedSoups.Checkpoints;

/// <summary>Name, dtype and shape of a tensor to write.</summary>
public sealed record TensorSpec(string Name, DType DType, long[] Shape)
{
    public long ByteLength => (TensorInfo.CheckedElementCount(Shape)
        ?? throw new SoupInputException($"tensor '{Name}': shape {TensorInfo.FormatShape(Shape)} overflows")) * DType.Size();
}

/// <summary>
/// Writes one safetensors file in the canonical layout of the reference implementation: a compact
/// JSON header (<c>__metadata__</c> first, then tensors in data order), padded with spaces so the data
/// section starts at a multiple of 8, then the tensors back to back. The header is written first, so
/// tensor bytes can then be written positionally, in any order and from several threads.
/// The caller must write every byte of every tensor; <see cref="Complete"/> checks that it did.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly DirectWrites? _direct;
    private readonly long _dataStart;
    private readonly long[] _begin;
    private readonly long[] _written;
    private readonly Dictionary<string, int> _index;

    public SafetensorsWriter(string path, IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata)
        : this(path, tensors, metadata, directWrites: true)
    {
    }

    /// <param name="directWrites">False keeps every write buffered (tests compare the two paths).</param>
    internal SafetensorsWriter(string path, IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata, bool directWrites)
    {
        Path = path;
        Tensors = tensors;
        _begin = new long[tensors.Count];
        _written = new long[tensors.Count];
        _index = new Dictionary<string, int>(tensors.Count, StringComparer.Ordinal);
        byte[] header = BuildHeader(tensors, metadata, _begin);
        for (int i = 0; i < tensors.Count; i++)
        {
            if (!_index.TryAdd(tensors[i].Name, i))
                throw new SoupInputException($"{path}: tensor '{tensors[i].Name}' given twice");
        }
        _dataStart = 8 + header.Length;
        long total = _dataStart + (tensors.Count == 0 ? 0 : _begin[^1] + tensors[^1].ByteLength);
        // Unbuffered: all writes are positional through the handle.
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        _stream.SetLength(total);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        RandomAccess.Write(_stream.SafeFileHandle, length, 0);
        RandomAccess.Write(_stream.SafeFileHandle, header, 8);
        if (directWrites && total >= DirectFromBytes) _direct = DirectWrites.TryOpen(path);
    }

    /// <summary>Files of at least this size write their large pieces past the page cache (<see cref="DirectWrites"/>).</summary>
    internal const long DirectFromBytes = 16 << 20;

    /// <summary>Tensor bytes written past the page cache so far.</summary>
    internal long DirectBytes => _direct?.DirectBytes ?? 0;

    public string Path { get; }

    public IReadOnlyList<TensorSpec> Tensors { get; }

    /// <summary>Writes bytes of tensor <paramref name="tensor"/> (an index into <see cref="Tensors"/>) at <paramref name="offset"/> bytes into it.</summary>
    public void Write(int tensor, long offset, ReadOnlySpan<byte> bytes)
    {
        if (offset < 0 || offset + bytes.Length > Tensors[tensor].ByteLength)
            throw new ArgumentOutOfRangeException(nameof(offset), $"write of {bytes.Length} bytes at {offset} is outside tensor '{Tensors[tensor].Name}'");
        long position = _dataStart + _begin[tensor] + offset;
        if (_direct is not null) _direct.Write(_stream.SafeFileHandle, bytes, position);
        else RandomAccess.Write(_stream.SafeFileHandle, bytes, position);
        Interlocked.Add(ref _written[tensor], bytes.Length);
    }

    /// <summary>Where tensor <paramref name="tensor"/>'s bytes begin in the file, modulo <see cref="DirectWrites.Alignment"/>.</summary>
    internal int Remainder(int tensor) => (int)((_dataStart + _begin[tensor]) % DirectWrites.Alignment);

    /// <summary>
    /// Writes a whole tensor from <paramref name="count"/> bytes of a pinned array at <paramref name="start"/>; laid out at the
    /// tensor's <see cref="Remainder"/>, its aligned middle goes past the page cache without a copy.
    /// </summary>
    internal void WritePinned(int tensor, byte[] pinned, int start, int count)
    {
        if (count != Tensors[tensor].ByteLength)
            throw new ArgumentException($"tensor '{Tensors[tensor].Name}' needs {Tensors[tensor].ByteLength} bytes, got {count}", nameof(count));
        long position = _dataStart + _begin[tensor];
        if (_direct is not null) _direct.Write(_stream.SafeFileHandle, pinned, start, count, position);
        else RandomAccess.Write(_stream.SafeFileHandle, pinned.AsSpan(start, count), position);
        Interlocked.Add(ref _written[tensor], count);
    }

    /// <summary>Writes a whole tensor by name.</summary>
    public void Write(string name, ReadOnlySpan<byte> bytes)
    {
        int i = _index.TryGetValue(name, out int k) ? k : throw new ArgumentException($"no tensor '{name}' in this file", nameof(name));
        if (bytes.Length != Tensors[i].ByteLength)
            throw new ArgumentException($"tensor '{name}' needs {Tensors[i].ByteLength} bytes, got {bytes.Length}", nameof(bytes));
        Write(i, 0, bytes);
    }

    /// <summary>Checks every tensor was written in full and flushes the file to disk.</summary>
    public void Complete()
    {
        for (int i = 0; i < Tensors.Count; i++)
        {
            if (_written[i] != Tensors[i].ByteLength)
                throw new InvalidOperationException($"{Path}: tensor '{Tensors[i].Name}' got {_written[i]} of {Tensors[i].ByteLength} bytes");
        }
        _stream.Flush(flushToDisk: true);
    }

    public void Dispose()
    {
        _direct?.Dispose();
        _stream.Dispose();
    }

    /// <summary>Writes a whole file of in-memory tensors atomically.</summary>
    public static void WriteFile(string path, IReadOnlyList<(TensorSpec Spec, byte[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using AtomicOutput output = AtomicOutput.ForFile(path);
        using (var writer = new SafetensorsWriter(output.TemporaryPath, tensors.Select(t => t.Spec).ToArray(), metadata))
        {
            foreach ((TensorSpec spec, byte[] data) in tensors) writer.Write(spec.Name, data);
            writer.Complete();
        }
        output.Commit();
    }

    /// <summary>The padded JSON header; fills <paramref name="begin"/> with each tensor's data offset.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata, long[] begin)
    {
        using var json = new MemoryStream();
        // Relaxed escaping keeps non-ASCII names readable UTF-8, as the reference writer does.
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach ((string key, string value) in metadata) w.WriteString(key, value);
                w.WriteEndObject();
            }
            long offset = 0;
            for (int i = 0; i < tensors.Count; i++)
            {
                TensorSpec t = tensors[i];
                if (t.Name == "__metadata__") throw new SoupInputException("a tensor may not be named '__metadata__'");
                long bytes = t.ByteLength;
                begin[i] = offset;
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.Name());
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad with spaces so that 8 + N is a multiple of 8 (the data section stays aligned).
        int padding = (int)((8 - json.Length % 8) % 8);
        for (int i = 0; i < padding; i++) json.WriteByte((byte)' ');
        return json.ToArray();
    }
}
