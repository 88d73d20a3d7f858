using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Checkpoints;

/// <summary>
/// Paths that are not regular files, or that lead out of their checkpoint: refused by what they are,
/// before anything is opened, so nothing blocks (a FIFO) or reads for ever (a device).
/// </summary>
public sealed class SpecialFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A sharded folder of the synthetic model (several shards), written by our own writer.</summary>
    private string Sharded(string name)
    {
        var model = Synthetic.Model(1, DType.F32);
        string folder = _dir.File(name);
        using (var writer = new CheckpointWriter(folder, model.Select(t => t.Spec).ToArray(), new Dictionary<string, string>(), 200))
        {
            for (int i = 0; i < model.Length; i++) writer.Write(i, 0, model[i].Data);
            writer.Commit();
        }
        return folder;
    }

    private static string FirstShard(string folder) => Directory.GetFiles(folder, "model-00001-*").Single();

    /// <summary>Replaces a file by a FIFO and opens the checkpoint: refused at once, naming the FIFO.</summary>
    private static async Task<SoupInputException> FifoRefused(string file, Func<Checkpoint> open)
    {
        File.Delete(file);
        await Fifo.Create(file);
        SoupInputException? e = null;
        Assert.True(await Fifo.FinishesWithoutBlocking(file, () => e = Assert.ThrowsAny<SoupInputException>(() => open().Dispose())),
            $"opening the checkpoint blocked on {file}");
        Assert.Contains("is a FIFO (named pipe), not a regular file", e!.Message);
        Assert.Contains(Path.GetFileName(file), e.Message);
        return e;
    }

    [Fact]
    public async Task Open_FifoAsFile_RefusedWithoutBlocking()
    {
        string fifo = _dir.File(Checkpoint.SingleFileName);
        var e = await FifoRefused(fifo, () => Checkpoint.Open(fifo));
        Assert.Equal($"{fifo}: is a FIFO (named pipe), not a regular file", e.Message);
        await FifoRefused(fifo, () => Checkpoint.Open(_dir.Path));
        Assert.True(await Fifo.FinishesWithoutBlocking(fifo, () => Assert.Throws<SoupInputException>(() => SafetensorsFile.Open(fifo))));
    }

    [Fact]
    public async Task Open_FifoAsShard_RefusedWithoutBlocking()
    {
        string folder = Sharded("m");
        var e = await FifoRefused(FirstShard(folder), () => Checkpoint.Open(folder));
        Assert.Contains("shard 'model-00001-of-", e.Message);
    }

    [Fact]
    public async Task Open_FifoAsIndex_RefusedWithoutBlocking()
    {
        string folder = Sharded("m");
        string index = Path.Combine(folder, Checkpoint.IndexFileName);
        await FifoRefused(index, () => Checkpoint.Open(folder));
        await FifoRefused(index, () => Checkpoint.Open(index));
    }

    [Fact]
    public void Open_IndexLinkedToDevZero_RefusedAtOnce()
    {
        string folder = Sharded("m");
        string index = Path.Combine(folder, Checkpoint.IndexFileName);
        File.Delete(index);
        File.CreateSymbolicLink(index, "/dev/zero");
        long allocated = Hostile.Allocated(() =>
        {
            var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
            Assert.Equal($"{index}: is a character device, not a regular file", e.Message);
        });
        Assert.InRange(allocated, 0, 1 << 20);
    }

    [Fact]
    public void Open_DeviceAsFile_Refused()
    {
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open("/dev/zero"));
        Assert.Equal("/dev/zero: is a character device, not a regular file", e.Message);
    }

    [Fact]
    public void Open_ShardIsAFolder_SaysSoNotMissing()
    {
        string folder = Sharded("m");
        string shard = FirstShard(folder);
        File.Delete(shard);
        Directory.CreateDirectory(shard);
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains($"shard '{Path.GetFileName(shard)}' named in weight_map is a folder, not a file", e.Message);
    }

    [Fact]
    public void Open_ShardLinkedOutOfItsFolder_Refused()
    {
        string folder = Sharded("m");
        string shard = FirstShard(folder);
        string outside = _dir.File("outside.safetensors");
        File.Move(shard, outside);
        File.CreateSymbolicLink(shard, outside);
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains($"shard '{Path.GetFileName(shard)}' is a link to {outside}, outside the checkpoint's folder", e.Message);
    }

    [Fact]
    public void Open_SingleFileLinkedOutOfItsFolder_Refused()
    {
        string folder = _dir.File("single");
        Directory.CreateDirectory(folder);
        string outside = Synthetic.Write(_dir.File("outside.safetensors"), Synthetic.Model(1, DType.F32));
        string link = Path.Combine(folder, Checkpoint.SingleFileName);
        File.CreateSymbolicLink(link, outside);
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("outside the checkpoint's folder", e.Message);
        Assert.EndsWith("; name the file itself to read it", e.Message);
        using Checkpoint named = Checkpoint.Open(link);
        Assert.Equal(6, named.Tensors.Count);
    }

    [Fact]
    public void Open_HubCacheLayout_LinksIntoBlobsAccepted()
    {
        // huggingface_hub's cache: snapshots/REVISION/NAME are links to ../../blobs/HASH, and the
        // folder itself may be reached through a link: both are accepted.
        string repo = _dir.File("models--org--name");
        string snapshot = Path.Combine(repo, "snapshots", "abc123");
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        string written = Sharded("written");
        foreach (string file in Directory.GetFiles(written))
        {
            string blob = Path.Combine(repo, "blobs", Guid.NewGuid().ToString("N"));
            File.Move(file, blob);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", Path.GetFileName(blob)));
        }
        string alias = _dir.File("alias");
        Directory.CreateSymbolicLink(alias, snapshot);
        using Checkpoint c = Checkpoint.Open(alias);
        Assert.Equal(6, c.Tensors.Count);
    }

    [Fact]
    public void Open_IndexOverTheHeaderLimit_RefusedUnread()
    {
        string folder = Sharded("m");
        using (var f = new FileStream(Path.Combine(folder, Checkpoint.IndexFileName), FileMode.Create))
            f.SetLength(SafetensorsHeader.MaxHeaderBytes + 1); // sparse: nothing is written
        long allocated = Hostile.Allocated(() =>
        {
            var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
            Assert.Contains("100000001 bytes, more than the limit of 100000000", e.Message);
        });
        Assert.InRange(allocated, 0, 1 << 20);
    }

    [Theory]
    [InlineData("{\"weight_map\":{\"a\\ud800\":\"model.safetensors\"}}", "lone UTF-16 surrogate")]
    [InlineData("{\"weight_map\":{\"a\":\"m\\udc00.safetensors\"}}", "lone UTF-16 surrogate")]
    [InlineData("{\"weight_map\":{\"a\":\"x.safetensors\"},\"weight_map\":{\"b\":\"y.safetensors\"}}", "'weight_map' appears more than once")]
    [InlineData("{\"weight_map\":{\"\\u001b[2J\":\"x\\u0000.safetensors\"}}", "entry '\\u001b[2J' names 'x\\u0000.safetensors', which is not a plain file name")]
    public void Open_HostileIndex_RefusedNamingTheProblem(string index, string expected)
    {
        string folder = _dir.File("idx");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, Checkpoint.IndexFileName), index);
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain(e.Message, c => char.IsControl(c));
    }

    [Fact]
    public void Open_IndexNameOverTheLimit_Refused()
    {
        string folder = _dir.File("idx");
        Directory.CreateDirectory(folder);
        string name = new('n', SafetensorsHeader.MaxNameBytes + 1);
        File.WriteAllText(Path.Combine(folder, Checkpoint.IndexFileName), JsonSerializer.Serialize(new { weight_map = new Dictionary<string, string> { [name] = "a.safetensors" } }));
        var e = Assert.Throws<SoupInputException>(() => Checkpoint.Open(folder));
        Assert.Contains("longer than 1024 bytes, the limit", e.Message);
        Assert.True(e.Message.Length < 300, e.Message);
    }
}
