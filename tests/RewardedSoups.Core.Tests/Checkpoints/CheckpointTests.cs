using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A sharded Hugging Face folder of the synthetic model, written by our own writer.</summary>
    private string Sharded(string name, long maxShardBytes = 200)
    {
        var model = Synthetic.Model(1, DType.F32);
        string folder = _dir.File(name);
        using (var writer = new CheckpointWriter(folder, model.Select(t => t.Spec).ToArray(), new Dictionary<string, string> { ["format"] = "pt" }, maxShardBytes))
        {
            for (int i = 0; i < model.Length; i++) writer.Write(i, 0, model[i].Data);
            writer.Commit();
        }
        return folder;
    }

    private void EditIndex(string folder, Action<Dictionary<string, string>> edit)
    {
        string path = Path.Combine(folder, Checkpoint.IndexFileName);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        var map = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        edit(map);
        File.WriteAllText(path, JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
    }

    [Fact]
    public void Open_ShardedFolder_ListsEveryTensorOnceInShardOrder()
    {
        string folder = Sharded("m");
        using Checkpoint c = Checkpoint.Open(folder);
        Assert.True(c.Files.Count > 2);
        Assert.Equal(Synthetic.Model(1, DType.F32).Select(t => t.Spec.Name).Order(), c.Tensors.Select(t => t.Name).Order());
        Assert.Equal(c.Files.Select(f => Path.GetFileName(f.Path)).Order(StringComparer.Ordinal), c.Files.Select(f => Path.GetFileName(f.Path)));
        Assert.StartsWith("model-00001-of-0000", Path.GetFileName(c.Files[0].Path));
        using Checkpoint viaIndex = Checkpoint.Open(Path.Combine(folder, Checkpoint.IndexFileName));
        Assert.Equal(c.HeaderSha256, viaIndex.HeaderSha256);
    }

    [Fact]
    public void Write_ShardIndex_HasTotalSizeAndSortedWeightMap()
    {
        string folder = Sharded("m");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, Checkpoint.IndexFileName)));
        long total = Synthetic.Model(1, DType.F32).Sum(t => (long)t.Data.Length);
        Assert.Equal(total, doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        string[] names = doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public void Write_EverythingFitsOneShard_PlainModelSafetensors()
    {
        string folder = Sharded("m", maxShardBytes: 1 << 20);
        Assert.Equal([Checkpoint.SingleFileName], Directory.GetFiles(folder).Select(Path.GetFileName));
        using Checkpoint c = Checkpoint.Open(folder);
        Assert.Equal(6, c.Tensors.Count);
    }

    [Fact]
    public void PlanShards_TensorLargerThanLimit_GetsAShardOfItsOwn()
    {
        TensorSpec[] specs = [new("a", DType.U8, [10]), new("big", DType.U8, [100]), new("b", DType.U8, [30]), new("c", DType.U8, [30])];
        var groups = CheckpointWriter.PlanShards(specs, 50);
        Assert.Equal([[0], [1], [2], [3]], groups);
        Assert.Equal([[0, 1, 2, 3]], CheckpointWriter.PlanShards(specs, 1000));
    }

    [Fact]
    public void Open_IndexNamesMissingShard_NamesShard()
    {
        string folder = Sharded("m");
        EditIndex(folder, map => map["scalar"] = "model-00009-of-00009.safetensors");
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("shard 'model-00009-of-00009.safetensors' named in weight_map does not exist", e.Message);
    }

    [Theory]
    [InlineData("../outside.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/model.safetensors")]
    public void Open_IndexShardIsAPath_Refused(string shard)
    {
        string folder = Sharded("m");
        EditIndex(folder, map => map["scalar"] = shard);
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("not a plain file name", e.Message);
    }

    [Fact]
    public void Open_ShardHoldsUnmappedTensor_NamesTensorAndShard()
    {
        string folder = Sharded("m");
        EditIndex(folder, map => map.Remove("scalar"));
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("tensor 'scalar' is not in the weight_map", e.Message);
    }

    [Fact]
    public void Open_IndexMapsTensorNoShardHolds_NamesTensor()
    {
        string folder = Sharded("m");
        EditIndex(folder, map => map["ghost"] = map["scalar"]);
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("tensor 'ghost' is mapped to shard", e.Message);
    }

    [Fact]
    public void Open_IndexNotJson_SaysSo()
    {
        string folder = Sharded("m");
        File.WriteAllText(Path.Combine(folder, Checkpoint.IndexFileName), "{ not json");
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("model.safetensors.index.json: not valid JSON", e.Message);
    }

    [Fact]
    public void Open_FolderWithoutModel_SaysWhatIsMissing()
    {
        Directory.CreateDirectory(_dir.File("empty"));
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(_dir.File("empty")));
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json", e.Message);
    }

    [Fact]
    public void Open_CorruptShard_ErrorNamesTheShardFile()
    {
        string folder = Sharded("m");
        string shard = Directory.GetFiles(folder, "model-00002-*").Single();
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..^3]);
        var e = Assert.Throws<SafetensorsFormatException>(() => Checkpoint.Open(folder));
        Assert.Equal(shard, e.File);
    }
}
