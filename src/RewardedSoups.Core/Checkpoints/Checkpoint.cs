using System.Security.Cryptography;
using System.Text.Json;

namespace RewardedSoups.Checkpoints;

/// <summary>A tensor of a checkpoint and the shard file that holds it.</summary>
public sealed record CheckpointTensor(TensorInfo Info, SafetensorsFile File)
{
    public string Name => Info.Name;

    public DType DType => Info.DType;

    public long[] Shape => Info.Shape;
}

/// <summary>
/// A model checkpoint in one of the layouts users have: a single <c>.safetensors</c> file, a Hugging
/// Face folder holding <c>model.safetensors</c>, or a sharded folder with
/// <c>model.safetensors.index.json</c> and its <c>model-0000k-of-0000n.safetensors</c> shards
/// (the index file itself may also be named). Tensors are listed in storage order: shard by shard,
/// each in offset order.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, CheckpointTensor> _byName;

    private Checkpoint(string path, List<SafetensorsFile> files, List<CheckpointTensor> tensors, byte[] identity)
    {
        Path = path;
        _files = files;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        HeaderSha256 = Convert.ToHexStringLower(identity);
    }

    /// <summary>The path as the user gave it (used in messages).</summary>
    public string Path { get; }

    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>Metadata of the first file (shards of one model carry the same).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _files.Count > 0 ? _files[0].Metadata : new Dictionary<string, string>();

    /// <summary>SHA-256 (hex) of the header JSON; for shards, of the shard headers' hashes in order.</summary>
    public string HeaderSha256 { get; }

    /// <summary>Total bytes of tensor data.</summary>
    public long DataBytes => Tensors.Sum(t => t.Info.ByteLength);

    public bool TryGet(string name, out CheckpointTensor tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Opens any of the supported layouts, validating every file and, for shards, the index against them.</summary>
    public static Checkpoint Open(string path)
    {
        if (Directory.Exists(path))
        {
            string index = System.IO.Path.Combine(path, IndexFileName);
            string single = System.IO.Path.Combine(path, SingleFileName);
            if (File.Exists(index)) return OpenSharded(path, index);
            if (File.Exists(single)) return OpenSingle(path, single);
            throw new SoupInputException($"{path}: folder holds neither {SingleFileName} nor {IndexFileName}");
        }
        if (path.EndsWith(".index.json", StringComparison.Ordinal)) return OpenSharded(path, path);
        if (!File.Exists(path)) throw new SoupInputException($"{path}: no such file or folder");
        return OpenSingle(path, path);
    }

    private static Checkpoint OpenSingle(string display, string file)
    {
        SafetensorsFile f = SafetensorsFile.Open(file);
        var tensors = f.Tensors.Select(t => new CheckpointTensor(t, f)).ToList();
        return new Checkpoint(display, [f], tensors, f.HeaderSha256);
    }

    private static Checkpoint OpenSharded(string display, string indexPath)
    {
        Dictionary<string, string> weightMap = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        // Shards in name order (model-00001-of-00003 sorts first), each opened once.
        var shardNames = weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        string? absent = shardNames.FirstOrDefault(shard => !File.Exists(System.IO.Path.Combine(folder, shard)));
        if (absent is not null)
            throw new SoupInputException($"{indexPath}: shard '{absent}' named in weight_map does not exist");
        var files = new List<SafetensorsFile>();
        try
        {
            var tensors = new List<CheckpointTensor>();
            using var identity = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (string shard in shardNames)
            {
                string shardPath = System.IO.Path.Combine(folder, shard);
                SafetensorsFile f = SafetensorsFile.Open(shardPath);
                files.Add(f);
                identity.AppendData(f.HeaderSha256);
                foreach (TensorInfo t in f.Tensors)
                {
                    if (!weightMap.TryGetValue(t.Name, out string? mapped))
                        throw new SoupInputException($"{shardPath}: tensor '{t.Name}' is not in the weight_map of {indexPath}");
                    if (mapped != shard)
                        throw new SoupInputException($"{shardPath}: tensor '{t.Name}' is mapped to shard '{mapped}' in {indexPath}");
                    tensors.Add(new CheckpointTensor(t, f));
                }
            }
            if (tensors.Count != weightMap.Count)
            {
                var present = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
                string missing = weightMap.Keys.First(k => !present.Contains(k));
                throw new SoupInputException($"{indexPath}: tensor '{missing}' is mapped to shard '{weightMap[missing]}' but that shard does not hold it");
            }
            return new Checkpoint(display, files, tensors, identity.GetHashAndReset());
        }
        catch
        {
            foreach (SafetensorsFile f in files) f.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        if (!File.Exists(indexPath)) throw new SoupInputException($"{indexPath}: no such file");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException e)
        {
            throw new SoupInputException($"{indexPath}: not valid JSON: {e.Message.Split('\n')[0]}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
                throw new SoupInputException($"{indexPath}: no 'weight_map' object");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new SoupInputException($"{indexPath}: weight_map entry '{p.Name}' is not a file name");
                string shard = p.Value.GetString()!;
                // Shards live beside the index: a path in the index would let a file point anywhere.
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                    throw new SoupInputException($"{indexPath}: weight_map entry '{p.Name}' names '{shard}', which is not a plain file name");
                if (!result.TryAdd(p.Name, shard))
                    throw new SoupInputException($"{indexPath}: weight_map names tensor '{p.Name}' twice");
            }
            if (result.Count == 0) throw new SoupInputException($"{indexPath}: weight_map is empty");
            return result;
        }
    }

    public void Dispose()
    {
        foreach (SafetensorsFile f in _files) f.Dispose();
    }
}
