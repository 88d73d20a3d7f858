using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using TorchSharp;

namespace RewardedSoups.Tests;

/// <summary>Built-in base models: trained once into the cache, keyed by their spec, atomic, resumable, one trainer at a time.</summary>
[Collection(nameof(LmPpoTests))]
public sealed class TextBaseTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string? _cacheBefore = Environment.GetEnvironmentVariable(TextBase.CacheVariable);

    public TextBaseTests()
    {
        torch.set_num_threads(1);
        Environment.SetEnvironmentVariable(TextBase.CacheVariable, _dir.File("cache"));
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(TextBase.CacheVariable, _cacheBefore);
        _dir.Dispose();
    }

    /// <summary>A base trained in seconds: 1 layer × 16 over GPT-2's first 512 tokens, on Brown.</summary>
    private static readonly TextBaseSpec Tiny = new(Vocab: 512, Layers: 1, Width: 16, Heads: 2, Context: 16, Batch: 4, Lr: 3e-3, Steps: 10, Corpora: ["brown"], Seed: 1, Threads: 1);

    private static byte[] Weights(TextBaseModel m) => File.ReadAllBytes(Path.Combine(m.ModelDir, Gpt2Folder.WeightsFile));

    [Fact]
    public void Ensure_TrainsOnceIntoTheCache_ThenLoadsIt()
    {
        var lines = new List<string>();
        TextBaseModel first = TextBase.Ensure(Tiny, lines.Add, default);
        Assert.True(first.Trained);
        Assert.Equal(Path.Combine(_dir.File("cache"), "text-base", Tiny.Hash), first.Folder);
        Assert.True(File.Exists(Path.Combine(first.ModelDir, "config.json")));
        Assert.Equal(1 + 5, File.ReadAllLines(Path.Combine(first.Folder, TextBase.LogFile)).Length); // a header, then a point every 2 of 10 steps
        Assert.False(Directory.Exists(first.Folder + ".partial"));
        Assert.Contains(lines, l => l.Contains("pre-training 1 layers × 16 on brown"));
        Assert.Equal(Tiny, first.Report.Spec);
        Assert.Equal(Tiny.Steps * Tiny.Batch * Tiny.Context, first.Report.TokensSeen);
        Assert.InRange(first.Report.ValidLoss, 1, Math.Log(513)); // learnt something: below the uniform distribution's loss

        lines.Clear();
        TextBaseModel again = TextBase.Ensure(Tiny, lines.Add, default);
        Assert.False(again.Trained);
        Assert.Empty(lines);
        Assert.Equal(first.Report, again.Report);
        using var loaded = Gpt2Model.Load(again.ModelDir);
        Assert.Equal(513, loaded.Config.VocabSize);
    }

    [Fact]
    public void Hash_NamesTheWholeSpec()
    {
        var hashes = new[]
        {
            Tiny, Tiny with { Vocab = 1024 }, Tiny with { Layers = 2 }, Tiny with { Width = 32 }, Tiny with { Heads = 4 }, Tiny with { Context = 32 },
            Tiny with { Batch = 8 }, Tiny with { Lr = 1e-3 }, Tiny with { Steps = 11 }, Tiny with { Corpora = ["brown", "austen"] }, Tiny with { Seed = 2 },
            Tiny with { Threads = 2 },
        }.Select(s => s.Hash).ToList();
        Assert.Equal(hashes.Count, hashes.Distinct().Count());
        Assert.All(hashes, h => Assert.Matches("^[0-9a-f]{16}$", h));
        Assert.Equal(Tiny.Hash, (Tiny with { Corpora = ["brown"] }).Hash); // a value, not a reference
    }

    [Fact]
    public void Ensure_StoppedAndStartedAgain_GivesTheBytesOfABaseNeverStopped()
    {
        TextBaseSpec spec = Tiny with { Steps = 20 };
        using (var stop = new CancellationTokenSource())
        {
            int logged = 0;
            Assert.ThrowsAny<OperationCanceledException>(() => TextBase.Ensure(spec, l => { if (l.StartsWith("base step") && ++logged == 2) stop.Cancel(); }, stop.Token));
        }
        Assert.True(File.Exists(Path.Combine(TextBase.Folder(spec) + ".partial", "checkpoint.safetensors")));
        Assert.Null(TextBase.Find(spec));
        TextBaseModel resumed = TextBase.Ensure(spec, null, default);

        Environment.SetEnvironmentVariable(TextBase.CacheVariable, _dir.File("other-cache"));
        TextBaseModel whole = TextBase.Ensure(spec, null, default);
        Assert.NotEqual(resumed.Folder, whole.Folder);
        Assert.Equal(Weights(whole), Weights(resumed));
        Assert.Equal(whole.Report.ValidLoss, resumed.Report.ValidLoss);
    }

    [Fact]
    public async Task Ensure_TwoAtOnce_OneTrainsTheOtherWaitsAndLoadsIt()
    {
        var lines = new System.Collections.Concurrent.ConcurrentBag<string>();
        TextBaseModel[] got = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => TextBase.Ensure(Tiny, lines.Add, default))));
        Assert.Single(got, m => m.Trained);
        Assert.Equal(got[0].Folder, got[1].Folder);
        Assert.Single(lines, l => l.Contains("pre-training"));
        Assert.Contains(lines, l => l.Contains("another process is training it"));
    }

    [Fact]
    public void Find_AFolderWhoseReportNamesAnotherBase_IsAnError()
    {
        TextBaseModel m = TextBase.Ensure(Tiny, null, default);
        string report = Path.Combine(m.Folder, TextBase.ReportFile);
        File.WriteAllText(report, File.ReadAllText(report).Replace(Tiny.Hash, "0123456789abcdef"));
        Assert.Contains("the cache folder was altered", Assert.Throws<SoupInputException>(() => TextBase.Find(Tiny)).Message);
    }

    [Fact]
    public void CacheRoot_SoupCache_ThenXdg_ThenHome()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Assert.Equal(_dir.File("cache"), TextBase.CacheRoot());
            Environment.SetEnvironmentVariable(TextBase.CacheVariable, null);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg");
            Assert.Equal("/tmp/xdg/rewardedsoups", TextBase.CacheRoot());
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "relative/ignored"); // the XDG spec: a relative path is invalid
            Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rewardedsoups"), TextBase.CacheRoot());
        }
        finally { Environment.SetEnvironmentVariable("XDG_CACHE_HOME", xdg); }
    }

    [Fact]
    public void SmallSize_IsTheBuiltInModelOfBefore()
    {
        TextBaseSize small = TextBase.Size("small");
        Assert.Equal(600, small.Steps);
        // The size's own keys, read as a configuration's text section (what soup pretrain does).
        var s = TextFamily.Settings(new TextFamily().ReadSettings(TextFamily.Task, small.Section(), new RewardedSoups.Tasks.ConfigReader("small")));
        TextBaseSpec spec = TextBaseSpec.From(s, small.Steps);
        Assert.Equal(new TextBaseSpec(8192, 4, 128, 4, 64, 32, 3e-3, 600, ["brown"], 1, 2), spec);
        Assert.Contains("the built-in bases are small, base", Assert.Throws<SoupInputException>(() => TextBase.Size("huge")).Message);
    }
}
