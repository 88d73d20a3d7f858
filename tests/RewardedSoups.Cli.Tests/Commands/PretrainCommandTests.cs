using System.Text.Json;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary><c>soup pretrain text</c>: a base trained once into the cache, found there by the command and by a text init with the same keys.</summary>
public sealed class PretrainCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Dictionary<string, string> Cache => new() { ["SOUP_CACHE"] = _dir.File("cache") };

    /// <summary>The small size's keys shrunk to a base trained in seconds.</summary>
    private static readonly string[] Tiny = ["--set", "layers=1", "--set", "width=16", "--set", "heads=2", "--set", "vocab=512", "--set", "context=32", "--set", "batch=4"];

    [Fact]
    public void Pretrain_TrainsOnce_ThenFindsIt_AndATextInitWithTheSameKeysUsesIt()
    {
        var first = CliRunner.RunProcess(Cache, ["pretrain", "text", "--size", "small", "--steps", "4", .. Tiny]);
        Assert.True(first.Exit == 0, first.Err);
        Assert.Contains("trained now", first.Out);
        Assert.Contains("1 layers × 16", first.Out);
        Assert.Contains("of brown", first.Out);

        var again = CliRunner.RunProcess(Cache, ["pretrain", "text", "--size", "small", "--steps", "4", "--json", .. Tiny]);
        Assert.True(again.Exit == 0, again.Err);
        using JsonDocument report = JsonDocument.Parse(again.Out);
        string hash = report.RootElement.GetProperty("hash").GetString()!;
        Assert.Contains($"base {hash} (trained now", first.Out);
        string folder = Path.Combine(_dir.File("cache"), "text-base", hash);
        Assert.True(File.Exists(Path.Combine(folder, "model", "config.json")));
        Assert.Equal(["brown"], report.RootElement.GetProperty("spec").GetProperty("corpora").EnumerateArray().Select(c => c.GetString()));

        // An init with the same text keys and pretrain steps loads that base and records it.
        var init = CliRunner.RunProcess(Cache, ["train", "--task", "reviews", "--steps", "4", "-o", _dir.File("init"), .. Tiny, "--set", "corpora=[brown]", "--set", "sft_steps=1"]);
        Assert.True(init.Exit == 0, init.Err);
        Assert.Contains($"base {hash} (cached: {folder})", init.Err);
        using JsonDocument initJson = JsonDocument.Parse(File.ReadAllText(_dir.File("init/init.json")));
        Assert.Equal(hash, initJson.RootElement.GetProperty("base").GetProperty("hash").GetString());
        Assert.Equal(folder, initJson.RootElement.GetProperty("base_folder").GetString());
        Assert.Equal(report.RootElement.GetProperty("valid_loss").GetDouble(), initJson.RootElement.GetProperty("pretrain_valid_loss").GetDouble());
    }

    [Theory]
    [InlineData(new[] { "pretrain", "image" }, "pretrain 'image': only 'text' has a shared base model")]
    [InlineData(new[] { "pretrain", "text", "--size", "huge" }, "--size 'huge': the built-in bases are small, base")]
    [InlineData(new[] { "pretrain", "text", "--steps", "0" }, "--steps must be ≥ 1, got 0")]
    [InlineData(new[] { "pretrain", "text", "--set", "corpora=[shakespeare]" }, "corpora")]
    [InlineData(new[] { "pretrain", "text", "--set", "layers=0" }, "layers")]
    public void Pretrain_BadInput_OneLineError_Exit2_NothingInTheCache(string[] args, string expected)
    {
        var r = CliRunner.RunProcess(Cache, args);
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
        Assert.Single(r.ErrLines);
        Assert.False(Directory.Exists(Path.Combine(_dir.File("cache"), "text-base")));
    }

    [Fact]
    public void PretrainHelp_NamesEveryBuiltInBaseSize() =>
        Assert.All(RewardedSoups.Tasks.Text.TextBase.Sizes, size => Assert.Contains($"{size.Name} ({size.Description})", RewardedSoups.Tasks.Text.TextBase.SizesHelp));
}
