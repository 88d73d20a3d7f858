using System.Text;
using RewardedSoups.App;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The app's cache on disk, with small JSON entries of known size: bounded, least recently used out first.</summary>
public sealed class SoupCacheTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Dir => _dir.File("app-cache");

    [Fact]
    public void Put_PastTheLimit_DeletesTheLeastRecentlyUsedFirst()
    {
        var cache = new SoupCache(Dir, limitBytes: 300);
        cache.Put("a", Body(100));
        cache.Put("b", Body(100));
        cache.Put("c", Body(100));
        Assert.NotNull(cache.TryGet("a")); // a used again: b is now the least recently used

        cache.Put("d", Body(100));

        Assert.Equal(["a", "c", "d"], Keys());
        Assert.Null(cache.TryGet("b"));
        Assert.Equal(300, cache.Bytes);
        Assert.Equal(300, FolderBytes());
    }

    [Fact]
    public void Put_ManyEntries_FolderNeverExceedsTheLimit()
    {
        var cache = new SoupCache(Dir, limitBytes: 1000);

        for (int i = 0; i < 50; i++)
        {
            cache.Put($"k{i}", Body(90 + i % 7 * 30));
            Assert.InRange(FolderBytes(), 1, 1000);
            Assert.Equal(FolderBytes(), cache.Bytes);
        }

        Assert.Contains("k49", Keys());
        Assert.DoesNotContain("k0", Keys());
    }

    [Fact]
    public void Put_EntryLargerThanTheLimit_NotKept()
    {
        var cache = new SoupCache(Dir, limitBytes: 100);
        cache.Put("small", Body(60));

        cache.Put("big", Body(101));

        Assert.Null(cache.TryGet("big"));
        Assert.Equal(["small"], Keys());
    }

    [Fact]
    public void Put_ZeroLimit_CachesNothing()
    {
        var cache = new SoupCache(Dir, limitBytes: 0);

        cache.Put("a", Body(50));

        Assert.Null(cache.TryGet("a"));
        Assert.Empty(Keys());
    }

    [Fact]
    public void Start_OverfullFolderOfAnOlderApp_TrimmedOldestFirst()
    {
        Directory.CreateDirectory(Dir);
        DateTime t0 = DateTime.UtcNow.AddHours(-1);
        foreach ((string key, int minutes) in new[] { ("old", 0), ("older", -10), ("new", 10), ("newest", 20) })
        {
            string path = Path.Combine(Dir, $"soup-{key}.json");
            File.WriteAllBytes(path, Body(100));
            File.SetLastWriteTimeUtc(path, t0.AddMinutes(minutes));
        }
        File.WriteAllText(Path.Combine(Dir, ".soup-x.json.tmp-0123"), "{"); // a write that was killed

        var cache = new SoupCache(Dir, limitBytes: 250);

        Assert.Equal(["new", "newest"], Keys());
        Assert.Equal(200, cache.Bytes);
        Assert.Equal(2, cache.Count);
        Assert.False(File.Exists(Path.Combine(Dir, ".soup-x.json.tmp-0123")));
    }

    [Fact]
    public void TryGet_DamagedEntry_IsAMissAndIsDeleted()
    {
        var cache = new SoupCache(Dir, limitBytes: 1000);
        cache.Put("a", Body(100));
        File.WriteAllText(Path.Combine(Dir, "soup-a.json"), "{\"lambda\":[0.5,"); // truncated

        Assert.Null(cache.TryGet("a"));
        Assert.Empty(Keys());
        Assert.Equal(0, cache.Bytes);
    }

    [Fact]
    public void TryGet_EntryDeletedByHand_IsAMiss()
    {
        var cache = new SoupCache(Dir, limitBytes: 1000);
        cache.Put("a", Body(100));
        Directory.Delete(Dir, recursive: true);

        Assert.Null(cache.TryGet("a"));
        Assert.Equal(0, cache.Bytes);
        cache.Put("a", Body(100)); // the folder is made again
        Assert.NotNull(cache.TryGet("a"));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>A JSON object of exactly <paramref name="bytes"/> bytes.</summary>
    private static byte[] Body(int bytes)
    {
        byte[] body = Encoding.UTF8.GetBytes("{\"x\":\"" + new string('a', bytes - 8) + "\"}");
        Assert.Equal(bytes, body.Length);
        return body;
    }

    private string[] Keys() =>
        Directory.Exists(Dir)
            ? Directory.GetFiles(Dir, "soup-*.json").Select(f => Path.GetFileNameWithoutExtension(f)["soup-".Length..]).Order(StringComparer.Ordinal).ToArray()
            : [];

    private long FolderBytes() => Directory.Exists(Dir) ? new DirectoryInfo(Dir).EnumerateFiles().Sum(f => f.Length) : 0;
}
