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
        _byName = new Dictionary<string, CheckpointTensor>(tensors.Count, StringComparer.Ordinal);
        foreach (CheckpointTensor t in tensors) _byName.Add(t.Name, t);
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
            // A file the folder holds must be a regular file in the folder (see CheckInFolder).
            if (InputFiles.KindOf(index) != FileKind.Missing)
            {
                InputFiles.RequireRegular(index);
                CheckInFolder(index, path, index, "file");
                return OpenSharded(path, index);
            }
            if (InputFiles.KindOf(single) != FileKind.Missing)
            {
                InputFiles.RequireRegular(single);
                CheckInFolder(single, path, single, "file", "; name the file itself to read it");
                return OpenSingle(path, single);
            }
            throw new SoupInputException($"{path}: folder holds neither {SingleFileName} nor {IndexFileName}");
        }
        if (path.EndsWith(".index.json", StringComparison.Ordinal)) return OpenSharded(path, path);
        if (InputFiles.KindOf(path) == FileKind.Missing) throw new SoupInputException($"{path}: no such file or folder");
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
        foreach (string shard in shardNames)
            CheckShard(indexPath, folder, shard);
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
                        throw new SoupInputException($"{shardPath}: tensor {Printable.Quote(t.Name)} is not in the weight_map of {indexPath}");
                    if (mapped != shard)
                        throw new SoupInputException($"{shardPath}: tensor {Printable.Quote(t.Name)} is mapped to shard {Printable.Quote(mapped)} in {indexPath}");
                    tensors.Add(new CheckpointTensor(t, f));
                }
            }
            if (tensors.Count != weightMap.Count)
            {
                var present = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
                string missing = weightMap.Keys.First(k => !present.Contains(k));
                throw new SoupInputException($"{indexPath}: tensor {Printable.Quote(missing)} is mapped to shard {Printable.Quote(weightMap[missing])} but that shard does not hold it");
            }
            return new Checkpoint(display, files, tensors, identity.GetHashAndReset());
        }
        catch
        {
            foreach (SafetensorsFile f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A shard must be a regular file, and stay in the checkpoint's folder once symbolic links are
    /// followed: a link in a downloaded folder could otherwise make us read (and quote in messages)
    /// any file of the machine.
    /// </summary>
    private static void CheckShard(string indexPath, string folder, string shard)
    {
        string path = System.IO.Path.Combine(folder, shard);
        FileKind kind = InputFiles.KindOf(path);
        if (kind == FileKind.Missing)
            throw new SoupInputException($"{indexPath}: shard {Printable.Quote(shard)} named in weight_map does not exist");
        if (kind != FileKind.Regular)
            throw new SoupInputException($"{indexPath}: shard {Printable.Quote(shard)} named in weight_map {InputFiles.Describe(kind)}");
        CheckInFolder(indexPath, folder, path, $"shard {Printable.Quote(shard)}");
    }

    /// <summary>
    /// Refuses a file of a checkpoint folder that resolves outside it. The one exception is the
    /// Hugging Face cache, whose <c>snapshots/REVISION/</c> folders hold links to <c>../../blobs/HASH</c>.
    /// </summary>
    private static void CheckInFolder(string display, string folder, string path, string what, string hint = "")
    {
        string? home = InputFiles.RealPath(folder);
        string? real = InputFiles.RealPath(path);
        if (home is null || real is null) throw new SoupInputException($"{display}: {what} cannot be resolved to a path");
        if (InputFiles.IsInside(real, home)) return;
        string? snapshots = System.IO.Path.GetDirectoryName(home);
        if (snapshots is not null && System.IO.Path.GetFileName(snapshots) == "snapshots" &&
            InputFiles.IsInside(real, System.IO.Path.Combine(System.IO.Path.GetDirectoryName(snapshots)!, "blobs")))
            return;
        throw new SoupInputException($"{display}: {what} is a link to {Printable.Escape(real)}, outside the checkpoint's folder {home}{hint}");
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        // The index names what the shard headers name, so the headers' bound (100 MB) bounds it too.
        byte[] bytes = InputFiles.ReadAllBytes(indexPath, SafetensorsHeader.MaxHeaderBytes);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new SoupInputException($"{indexPath}: not valid JSON: {e.Message.Split('\n')[0]}");
        }
        using (doc)
        {
            try
            {
                return WeightMap(indexPath, doc.RootElement);
            }
            catch (InvalidOperationException)
            {
                // A name could not be unescaped: a \u escape of half a surrogate pair.
                throw new SoupInputException($"{indexPath}: holds a \\u escape of a lone UTF-16 surrogate, which is not a character");
            }
        }
    }

    private static Dictionary<string, string> WeightMap(string indexPath, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new SoupInputException($"{indexPath}: no 'weight_map' object");
        JsonElement[] maps = root.EnumerateObject().Where(p => p.NameEquals("weight_map")).Select(p => p.Value).ToArray();
        if (maps.Length > 1) throw new SoupInputException($"{indexPath}: 'weight_map' appears more than once");
        if (maps.Length == 0 || maps[0].ValueKind != JsonValueKind.Object) throw new SoupInputException($"{indexPath}: no 'weight_map' object");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in maps[0].EnumerateObject())
        {
            string name = p.Name;
            if (result.Count == SafetensorsHeader.MaxEntries)
                throw new SoupInputException($"{indexPath}: weight_map names more than {SafetensorsHeader.MaxEntries:N0} tensors, the limit");
            if (System.Text.Encoding.UTF8.GetByteCount(name) > SafetensorsHeader.MaxNameBytes)
                throw new SoupInputException($"{indexPath}: weight_map names tensor {Printable.Quote(name, 40)}, longer than {SafetensorsHeader.MaxNameBytes} bytes, the limit");
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new SoupInputException($"{indexPath}: weight_map entry {Printable.Quote(name)} is not a file name");
            string shard = p.Value.GetString()!;
            // Shards live beside the index: a path in the index would let a file point anywhere.
            if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or ".." || shard.Contains('\0'))
                throw new SoupInputException($"{indexPath}: weight_map entry {Printable.Quote(name)} names {Printable.Quote(shard)}, which is not a plain file name");
            if (!result.TryAdd(name, shard))
                throw new SoupInputException($"{indexPath}: weight_map names tensor {Printable.Quote(name)} twice");
        }
        if (result.Count == 0) throw new SoupInputException($"{indexPath}: weight_map is empty");
        return result;
    }

    public void Dispose()
    {
        foreach (SafetensorsFile f in _files) f.Dispose();
    }
}
