using System.Text.Encodings.Web;
using System.Text.Json;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// Writes a checkpoint atomically, either as one <c>.safetensors</c> file (when the destination ends
/// in <c>.safetensors</c>) or as a Hugging Face folder: <c>model.safetensors</c> when everything fits in
/// one shard, else <c>model-0000k-of-0000n.safetensors</c> shards of at most
/// <see cref="MaxShardBytes"/> tensor bytes each (a larger tensor gets a shard of its own, as in
/// <c>transformers</c>) and <c>model.safetensors.index.json</c>. Tensor bytes are written positionally
/// (thread-safe) through <see cref="Write"/>; nothing appears at the destination before <see cref="Commit"/>.
/// </summary>
public sealed class CheckpointWriter : IDisposable
{
    private readonly AtomicOutput _output;
    private readonly SafetensorsWriter[] _shards;
    private readonly (int Shard, int Index)[] _location;

    public CheckpointWriter(string destination, IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string> metadata,
        long? maxShardBytes = null, bool overwrite = false)
    {
        if (maxShardBytes is <= 0) throw new SoupInputException($"maximum shard size must be positive, got {maxShardBytes}");
        bool single = destination.EndsWith(".safetensors", StringComparison.Ordinal);
        if (single && maxShardBytes is not null)
            throw new SoupInputException($"{destination}: a shard size needs a folder destination, not a .safetensors file");
        Tensors = tensors;
        MaxShardBytes = maxShardBytes;
        IsFolder = !single;
        _output = single ? AtomicOutput.ForFile(destination) : AtomicOutput.ForFolder(destination, overwrite);
        try
        {
            List<List<int>> groups = single || maxShardBytes is null ? [Enumerable.Range(0, tensors.Count).ToList()] : PlanShards(tensors, maxShardBytes.Value);
            _shards = new SafetensorsWriter[groups.Count];
            _location = new (int, int)[tensors.Count];
            ShardNames = groups.Count == 1
                ? [single ? _output.TemporaryPath : Checkpoint.SingleFileName]
                : Enumerable.Range(1, groups.Count).Select(k => $"model-{k:D5}-of-{groups.Count:D5}.safetensors").ToArray();
            for (int s = 0; s < groups.Count; s++)
            {
                string path = single ? _output.TemporaryPath : System.IO.Path.Combine(_output.TemporaryPath, ShardNames[s]);
                var specs = new TensorSpec[groups[s].Count];
                for (int k = 0; k < specs.Length; k++)
                {
                    specs[k] = tensors[groups[s][k]];
                    _location[groups[s][k]] = (s, k);
                }
                _shards[s] = new SafetensorsWriter(path, specs, metadata);
            }
            if (groups.Count > 1) WriteIndex(groups);
        }
        catch
        {
            foreach (SafetensorsWriter? w in _shards ?? []) w?.Dispose();
            _output.Dispose();
            throw;
        }
    }

    public IReadOnlyList<TensorSpec> Tensors { get; }

    public long? MaxShardBytes { get; }

    /// <summary>File names of the shards written (one entry for a single file).</summary>
    public IReadOnlyList<string> ShardNames { get; }

    /// <summary>True when the destination is a folder (which may hold other files beside the tensors).</summary>
    public bool IsFolder { get; }

    /// <summary>Writes another file (a model's config.json, its tokenizer's) into a folder destination, before the commit.</summary>
    public void AddFile(string name, byte[] content)
    {
        if (!IsFolder) throw new InvalidOperationException("only a folder destination holds other files");
        if (name != System.IO.Path.GetFileName(name) || name is "" or "." or "..")
            throw new ArgumentException($"'{name}' is not a plain file name", nameof(name));
        if (name.EndsWith(".safetensors", StringComparison.Ordinal) || name == Checkpoint.IndexFileName)
            throw new ArgumentException($"{name}: tensor files are the writer's own", nameof(name));
        File.WriteAllBytes(System.IO.Path.Combine(_output.TemporaryPath, name), content);
    }

    public void Write(int tensor, long offset, ReadOnlySpan<byte> bytes)
    {
        (int shard, int index) = _location[tensor];
        _shards[shard].Write(index, offset, bytes);
    }

    /// <summary>Where tensor <paramref name="tensor"/>'s bytes begin in its file, modulo the alignment of direct writes (4 KiB).</summary>
    internal int Remainder(int tensor)
    {
        (int shard, int index) = _location[tensor];
        return _shards[shard].Remainder(index);
    }

    /// <summary>
    /// Writes a whole tensor from a pinned array (<see cref="PinnedBuffers"/>); laid out at the tensor's <see cref="Remainder"/>,
    /// its bytes go to the device without a copy where direct writes are on.
    /// </summary>
    internal void WritePinned(int tensor, byte[] pinned, int start, int count)
    {
        (int shard, int index) = _location[tensor];
        _shards[shard].WritePinned(index, pinned, start, count);
    }

    /// <summary>Checks every byte was written, flushes and renames the result into place.</summary>
    public void Commit()
    {
        foreach (SafetensorsWriter w in _shards)
        {
            w.Complete();
            w.Dispose();
        }
        _output.Commit();
    }

    public void Dispose()
    {
        foreach (SafetensorsWriter w in _shards) w.Dispose();
        _output.Dispose();
    }

    /// <summary>Greedy, in order: start a new shard when the next tensor would overflow the current one.</summary>
    internal static List<List<int>> PlanShards(IReadOnlyList<TensorSpec> tensors, long maxShardBytes)
    {
        var groups = new List<List<int>> { new() };
        long size = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            long bytes = tensors[i].ByteLength;
            if (groups[^1].Count > 0 && size + bytes > maxShardBytes)
            {
                groups.Add([]);
                size = 0;
            }
            groups[^1].Add(i);
            size += bytes;
        }
        return groups;
    }

    private void WriteIndex(List<List<int>> groups)
    {
        string path = System.IO.Path.Combine(_output.TemporaryPath, Checkpoint.IndexFileName);
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteStartObject("metadata");
        w.WriteNumber("total_size", Tensors.Sum(t => t.ByteLength));
        w.WriteEndObject();
        w.WriteStartObject("weight_map");
        // Sorted by name, as transformers writes it.
        foreach ((string name, string shard) in groups
                     .SelectMany((g, s) => g.Select(i => (Tensors[i].Name, ShardNames[s])))
                     .OrderBy(p => p.Name, StringComparer.Ordinal))
            w.WriteString(name, shard);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
