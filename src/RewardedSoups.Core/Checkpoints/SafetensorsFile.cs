using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// An open safetensors file: the validated header, and positional reads of tensor bytes.
/// Nothing but the header is held in memory; tensor data is read on demand into the caller's buffer,
/// so a merge streams files of any size in bounded memory. Reads are thread-safe (positional I/O).
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly SafeFileHandle _handle;

    private SafetensorsFile(string path, SafeFileHandle handle, SafetensorsHeader header, byte[] headerSha256)
    {
        Path = path;
        _handle = handle;
        Header = header;
        HeaderSha256 = headerSha256;
    }

    public string Path { get; }

    public SafetensorsHeader Header { get; }

    public IReadOnlyList<TensorInfo> Tensors => Header.Tensors;

    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>SHA-256 of the header JSON bytes (the 8-byte length excluded): identifies names, shapes, dtypes and metadata cheaply.</summary>
    public byte[] HeaderSha256 { get; }

    /// <summary>
    /// Opens and validates a file; a violation of the format throws <see cref="SafetensorsFormatException"/>.
    /// Only a regular file is opened (checked first: opening a FIFO would block, a device never ends).
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        InputFiles.RequireRegular(path);
        SafeFileHandle handle;
        try
        {
            // No access hint: the kernel's readahead stays on. Merges read every tensor front to back, and
            // FileOptions.RandomAccess (POSIX_FADV_RANDOM, which turns readahead off) made a merge of inputs not in
            // the page cache wait for each 64 KiB read in turn: 3 × 1 GiB BF16, paired runs after dropping the
            // caches, linear wall 0.84×, ties 0.86× without it; warm inputs unchanged (ties 0.98×,
            // 1.04×, 0.99× in 8, 10, 12 pairs). SequentialScan
            // (a doubled readahead window) measured the same as no hint (1.01×). docs/merging.md, "Speed".
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SoupInputException($"{path}: no such file");
        }
        catch (UnauthorizedAccessException)
        {
            throw new SoupInputException($"{path}: permission denied");
        }
        try
        {
            long length = RandomAccess.GetLength(handle);
            Span<byte> first8 = stackalloc byte[8];
            int got = length >= 8 ? ReadFully(handle, first8, 0) : 0;
            long n = SafetensorsHeader.ReadHeaderLength(first8[..got], length, path);
            // n is bounded by 100 MB and by the file's length: the only allocation a header value decides.
            byte[] json = new byte[n];
            ReadFully(handle, json, 8);
            SafetensorsHeader header = SafetensorsHeader.Parse(json, length - 8 - n, path);
            return new SafetensorsFile(path, handle, header, SHA256.HashData(json));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads bytes of one tensor, starting <paramref name="offset"/> bytes into it, filling <paramref name="destination"/>.</summary>
    public void Read(TensorInfo tensor, long offset, Span<byte> destination)
    {
        if (offset < 0 || offset + destination.Length > tensor.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(offset), $"read of {destination.Length} bytes at {offset} is outside tensor {Printable.Quote(tensor.Name)} ({tensor.ByteLength} bytes)");
        int got = ReadFully(_handle, destination, Header.DataStart + tensor.Begin + offset);
        if (got != destination.Length)
            throw new SoupInputException($"{Path}: tensor {Printable.Quote(tensor.Name)}: file ended early (was it truncated while open?)");
    }

    /// <summary>Reads a whole tensor into a new array (for small tensors and tests; merges stream instead).</summary>
    public byte[] ReadAll(TensorInfo tensor)
    {
        byte[] bytes = new byte[tensor.ByteLength];
        Read(tensor, 0, bytes);
        return bytes;
    }

    /// <summary>A floating tensor widened to float32 (small tensors: policies, adapters, normalisers).</summary>
    public float[] ReadSingles(TensorInfo tensor)
    {
        if (!tensor.DType.IsFloat()) throw new SoupInputException($"{Path}: tensor {Printable.Quote(tensor.Name)} is {tensor.DType.Name()}, not floating");
        var values = new float[tensor.ElementCount];
        Numerics.ElementConversion.ToSingle(tensor.DType, ReadAll(tensor), values);
        return values;
    }

    /// <summary>A floating tensor widened to float64.</summary>
    public double[] ReadDoubles(TensorInfo tensor)
    {
        if (!tensor.DType.IsFloat()) throw new SoupInputException($"{Path}: tensor {Printable.Quote(tensor.Name)} is {tensor.DType.Name()}, not floating");
        var values = new double[tensor.ElementCount];
        Numerics.ElementConversion.ToDouble(tensor.DType, ReadAll(tensor), values);
        return values;
    }

    public byte[] ReadAll(string name) =>
        ReadAll(Header.ByName.TryGetValue(name, out TensorInfo? t) ? t : throw new SoupInputException($"{Path}: no tensor {Printable.Quote(name)}"));

    private static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[total..], position + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    public void Dispose() => _handle.Dispose();
}
