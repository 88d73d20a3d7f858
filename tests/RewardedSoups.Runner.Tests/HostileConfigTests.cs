using System.Diagnostics;
using System.Text;
using RewardedSoups.Runner;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// Hostile and mistyped configurations (issue 13, item 2), each generated here: every one is refused with
/// one <see cref="SoupInputException"/> (exit status 2 at the command line) naming the file and the key or
/// limit, quickly and in bounded memory (the allocations of the loading thread are measured: before these
/// limits, several of these took gigabytes, a stack overflow or a hang).
/// </summary>
public sealed class HostileConfigTests : IDisposable
{
    private const long Megabyte = 1 << 20;

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_HundredThousandNestedBrackets_RefusedAtTheDepthLimit()
    {
        string message = Refused("c.yaml", "name: x\nfake: " + new string('[', 100_000) + "\n", maxAllocated: 16 * Megabyte);
        Assert.Contains("'fake[0][0][0]", message);
        Assert.Contains($"nested deeper than {ConfigLimits.MaxDepth} levels", message);
    }

    [Fact]
    public void Load_HundredThousandNestedJsonArrays_RefusedAtTheDepthLimit()
    {
        string message = Refused("c.json", "{\"fake\": " + new string('[', 100_000) + "}", maxAllocated: 16 * Megabyte);
        Assert.Contains("'fake[0][0][0]", message);
        Assert.Contains($"nested deeper than {ConfigLimits.MaxDepth} levels", message);
    }

    [Fact]
    public void Load_BillionLaughs_RefusedWithinTheNodeBudget()
    {
        // Nine levels of ten aliases each would be 10⁹ strings; the budget stops the fifth level.
        var yaml = new StringBuilder("l0: &l0 [" + string.Join(", ", Enumerable.Repeat("lol", 10)) + "]\n");
        for (int level = 1; level <= 9; level++)
            yaml.Append($"l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat($"*l{level - 1}", 10))}]\n");
        string message = Refused("c.yaml", yaml.ToString(), maxAllocated: 64 * Megabyte);
        Assert.Contains("'l4[", message);
        Assert.Contains($"grows past {ConfigLimits.MaxNodes} values", message);
    }

    [Fact]
    public void Load_FiftyMegabyteFile_RefusedBeforeReadingIt()
    {
        string path = _dir.File("big.yaml");
        using (var f = new FileStream(path, FileMode.CreateNew)) f.SetLength(50 * Megabyte);
        string message = RefusedPath(path, maxAllocated: Megabyte);
        Assert.Contains($"is {50 * Megabyte} bytes; a configuration may be at most {ConfigLimits.MaxFileBytes} bytes", message);
    }

    [Fact]
    public void Load_FileAtTheSizeLimit_IsRead()
    {
        string yaml = FakeFamily.Yaml() + "# ";
        string padded = yaml + new string('x', ConfigLimits.MaxFileBytes - Encoding.UTF8.GetByteCount(yaml) - 1) + "\n";
        File.WriteAllText(_dir.File("limit.yaml"), padded);
        Assert.Equal(ConfigLimits.MaxFileBytes, new FileInfo(_dir.File("limit.yaml")).Length);
        Assert.Equal("fake-run", ExperimentConfig.Load(_dir.File("limit.yaml"), FakeFamily.Catalogue).Name);

        File.AppendAllText(_dir.File("limit.yaml"), "\n");
        Assert.Contains("at most 1048576 bytes", RefusedPath(_dir.File("limit.yaml"), maxAllocated: Megabyte));
    }

    [Fact]
    public void Load_SymlinkToDevZero_RefusedAsNotARegularFile()
    {
        string link = _dir.File("zero.yaml");
        File.CreateSymbolicLink(link, "/dev/zero");
        string message = RefusedPath(link, maxAllocated: Megabyte);
        Assert.Contains("zero.yaml: empty, or not a regular file", message);
    }

    [Fact]
    public void Load_SymlinkToAConfiguration_FollowsIt()
    {
        File.WriteAllText(_dir.File("real.yaml"), FakeFamily.Yaml());
        File.CreateSymbolicLink(_dir.File("link.yaml"), _dir.File("real.yaml"));
        Assert.Equal("fake-run", ExperimentConfig.Load(_dir.File("link.yaml"), FakeFamily.Catalogue).Name);
    }

    [Fact]
    public void Load_SymlinkLoop_Refused()
    {
        File.CreateSymbolicLink(_dir.File("a.yaml"), _dir.File("b.yaml"));
        File.CreateSymbolicLink(_dir.File("b.yaml"), _dir.File("a.yaml"));
        Assert.Contains("a.yaml: cannot follow its symbolic link", RefusedPath(_dir.File("a.yaml"), maxAllocated: Megabyte));
    }

    [Fact]
    public void Load_Folder_Refused()
    {
        Directory.CreateDirectory(_dir.File("folder.yaml"));
        Assert.Contains("folder.yaml: is a folder, not a configuration file", RefusedPath(_dir.File("folder.yaml"), maxAllocated: Megabyte));
    }

    [Fact]
    public async Task Load_Fifo_RefusedWithoutOpeningIt()
    {
        string fifo = await Fifo.Create(_dir.File("fifo.yaml"));
        SoupInputException? refused = null;
        Assert.True(await Fifo.FinishesWithoutBlocking(fifo, () => refused = Assert.Throws<SoupInputException>(() => ExperimentConfig.Load(fifo, FakeFamily.Catalogue))),
            "loading a FIFO blocked: it was opened");
        Assert.Contains("fifo.yaml: empty, or not a regular file (a FIFO, device or socket)", refused!.Message);
    }

    [Theory]
    [InlineData("c.yaml", "fake: {size: NaN}", "'fake.size': NaN is not a finite number")]
    [InlineData("c.yaml", "evaluation: {episodes: 1e309}", "'evaluation.episodes': 1e309 is not a finite number")]
    [InlineData("c.yaml", "soups: {step: -Infinity}", "'soups.step': -Infinity is not a finite number")]
    [InlineData("c.yaml", "morl: {preferences: [Infinity]}", "'morl.preferences[0]': Infinity is not a finite number")]
    [InlineData("c.json", "\"evaluation\": {\"episodes\": 1e309}", "'evaluation.episodes': 1e309 is not a finite number")]
    [InlineData("c.json", "\"evaluation\": {\"episodes\": -1e400}", "'evaluation.episodes': -1e400 is not a finite number")]
    public void Load_NonFiniteNumber_NamesTheKey(string file, string extra, string expected)
    {
        string text = file.EndsWith(".json") ? Json(extra) : FakeFamily.Yaml(extra);
        Assert.Contains(expected, Refused(file, text, maxAllocated: Megabyte));
    }

    [Fact]
    public void Load_NonFiniteRewardWeight_NamesTheTerm()
    {
        string yaml = "name: x\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts:\n  rewards: [{name: c, terms: {x: -Infinity}}, b]\n  steps: 10\n";
        Assert.Contains("'experts.rewards[0].terms.x': -Infinity is not a finite number", Refused("c.yaml", yaml, maxAllocated: Megabyte));
    }

    [Theory]
    [InlineData("fake: {? [size, modes]\n  : 1}", "'fake': a key must be a plain name, found a list")]
    [InlineData("fake: {? {size: 1}\n  : 1}", "'fake': a key must be a plain name, found a mapping")]
    [InlineData("? [x]\n: 1", "c.yaml: a key must be a plain name, found a list")]
    [InlineData("fake: &k {size: 1}\nevaluation: {*k : 1}", "'evaluation': a key must be a plain name, found an alias")]
    public void Load_NonScalarKey_NamesWhereItIs(string extra, string expected)
    {
        Assert.Contains(expected, Refused("c.yaml", FakeFamily.Yaml(extra), maxAllocated: Megabyte));
    }

    [Theory]
    [InlineData("c.json", "{\"name\": \"x\", \"name\": \"y\"}", "'name': the key appears twice")]
    [InlineData("c.json", "{\"experts\": {\"steps\": 1, \"rewards\": [], \"steps\": 2}}", "'experts.steps': the key appears twice")]
    [InlineData("c.yaml", "name: x\ntask: fake\nname: y\n", "'name': the key appears twice")]
    [InlineData("c.yaml", "experts: {steps: 1, steps: 2}\n", "'experts.steps': the key appears twice")]
    public void Load_DuplicateKey_NamesKey(string file, string text, string expected)
    {
        Assert.Contains(expected, Refused(file, text, maxAllocated: Megabyte));
    }

    [Theory]
    [InlineData("../../../../x")]
    [InlineData("..")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("a\\\\b")]
    [InlineData("-rf")]
    [InlineData("a b")]
    [InlineData("naïve")]
    [InlineData("x\\u0000y")]
    public void Load_NameThatIsNoPlainFolderName_Refused(string name)
    {
        string message = Refused("c.yaml", FakeFamily.Yaml(name: $"\"{name}\""), maxAllocated: Megabyte);
        Assert.Contains("'name': names the run folder runs/NAME, so it must be a plain name", message);
    }

    [Fact]
    public void Load_FiveThousandCharacterName_RefusedAndQuotedShort()
    {
        string message = Refused("c.yaml", FakeFamily.Yaml(name: new string('n', 5000)), maxAllocated: Megabyte);
        Assert.Contains($"at most {ConfigLimits.MaxNameLength} characters", message);
        Assert.Contains("(5002 characters)", message); // the quoted JSON text, cut
        Assert.True(message.Length < 400, message);
    }

    [Theory]
    [InlineData("demo-cheetah")]
    [InlineData("A.b_c-1")]
    [InlineData("7up")]
    public void Load_PlainName_Accepted(string name)
    {
        File.WriteAllText(_dir.File("c.yaml"), FakeFamily.Yaml(name: name));
        Assert.Equal(name, ExperimentConfig.Load(_dir.File("c.yaml"), FakeFamily.Catalogue).Name);
        File.WriteAllText(_dir.File("c.yaml"), FakeFamily.Yaml(name: new string('n', ConfigLimits.MaxNameLength)));
        Assert.Equal(ConfigLimits.MaxNameLength, ExperimentConfig.Load(_dir.File("c.yaml"), FakeFamily.Catalogue).Name.Length);
    }

    [Theory]
    [InlineData("soups: {step: 1e-9}", "'soups.step': 1E-09 makes 1000000001 soups; at most 1001")]
    [InlineData("soups: {step: 1e-300}", "'soups.step': 1E-300 makes 1E+300 soups; at most 1001")]
    [InlineData("soups: {divisions: 100000}", "'soups.divisions': 100000 divisions for 2 experts make 100001 soups; at most 1001")]
    [InlineData("repeats: 100000000", "'repeats': must be at most 100, got 100000000")]
    [InlineData("repeats: 1e300", "'repeats': must be at most 100, got 1E+300")]
    [InlineData("fake: {size: 2000000000}", "'fake.size': must be at most 100, got 2000000000")]
    [InlineData("parallelism: 2000000000", "'parallelism': must be at most 1024, got 2000000000")]
    [InlineData("evaluation: {episodes: 100000000}", "'evaluation.episodes': must be at most 10000, got 100000000")]
    [InlineData("evaluation: {eu_divisions: 2000000}", "'evaluation.eu_divisions': 2000000 divisions for 2 experts make 2000001 preferences; at most 1000000")]
    [InlineData("seed: 2147483647\nrepeats: 2", "'seed': the last repeat's seed, seed + repeats − 1, must be at most 2147483647, got 2147483648")]
    [InlineData("soups: {step: 0.001}\nrepeats: 5", "'repeats': the plan has 10040 jobs (5 training seeds × 2008: the init, 2 experts, 0 MORL policies, 1 × 1001 soups, 0 ensembles, 0 λ-search soups, and an evaluation of each); at most 10000")]
    [InlineData("soups: {step: 0.001}\nrepeats: 3\nfake: {modes: 2}", "'repeats': the plan has 12030 jobs")]
    public void Load_PlanBeyondALimit_NamesTheKeyAndTheLimit(string extra, string expected)
    {
        Assert.Contains(expected, Refused("c.yaml", FakeFamily.Yaml(extra), maxAllocated: 2 * Megabyte));
    }

    [Fact]
    public void Load_TooManyItems_RefusedBeforeReadingThem()
    {
        string Many(int count, string item) => "[" + string.Join(", ", Enumerable.Repeat(item, count)) + "]";
        Assert.Contains("'morl.preferences': 101 preferences; at most 100", Refused("c.yaml", FakeFamily.Yaml($"morl: {{preferences: {Many(101, "0.5")}}}"), Megabyte));
        Assert.Contains("'evaluation.seeds': 101 seeds; at most 100", Refused("c.yaml", FakeFamily.Yaml($"evaluation: {{seeds: {Many(101, "1")}}}"), Megabyte));
        Assert.Contains("'soups.points': 1002 points; at most 1001", Refused("c.yaml", FakeFamily.Yaml($"soups: {{points: {Many(1002, "0.5")}}}"), Megabyte));
        string manyExperts = "name: x\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: " + Many(17, "a") + ", steps: 10}\n";
        Assert.Contains("'experts.rewards': 17 experts; at most 16", Refused("c.yaml", manyExperts, Megabyte));
        Assert.Contains("'experts.steps': must be at most 1000000000, got 10000000000", Refused("c.yaml", FakeFamily.Yaml().Replace("[a, b], steps: 10}", "[a, b], steps: 1e10}"), Megabyte));
    }

    /// <summary>The configuration text is refused; returns the one-line message after checking it names the file and the loading thread's allocations.</summary>
    private string Refused(string file, string text, long maxAllocated)
    {
        File.WriteAllText(_dir.File(file), text);
        return RefusedPath(_dir.File(file), maxAllocated);
    }

    private static string RefusedPath(string path, long maxAllocated)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<SoupInputException>(() => ExperimentConfig.Load(path, FakeFamily.Catalogue));
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= maxAllocated, $"allocated {allocated} bytes refusing it (at most {maxAllocated}): {e.Message}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed} refusing it: {e.Message}");
        Assert.StartsWith(path + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    private static string Json(string extra) =>
        "{\"name\": \"x\", \"task\": \"fake\", \"pretrain\": {\"reward\": \"a\", \"steps\": 10}, \"experts\": {\"rewards\": [\"a\", \"b\"], \"steps\": 10}, " + extra + "}";
}
