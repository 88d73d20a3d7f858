using System.Diagnostics;
using RewardedSoups.Cli;
using RewardedSoups.Cli.Commands;
using RewardedSoups.Runner;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>
/// <c>soup run</c> on hostile and mistyped configurations (issue 13, item 2), each generated here: exit
/// status 2, one line on stderr naming the file and the key or limit, no stack trace, and no run folder.
/// The built-in configurations all stay within the limits.
/// </summary>
public sealed class RunConfigLimitsTests : IDisposable
{
    private const string Cheetah = "name: x\ntask: cheetah\npretrain: {reward: risky, steps: 10}\nexperts: {rewards: [risky, cautious], steps: 10}\n";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> HostileTexts => new()
    {
        { "nested.yaml", Cheetah + "ppo: " + new string('[', 100_000) },
        { "laughs.yaml", string.Concat(Enumerable.Range(0, 10).Select(i => i == 0 ? "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" : $"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]\n")) },
        { "step.yaml", Cheetah + "soups: {step: 1e-9}" },
        { "repeats.yaml", Cheetah + "repeats: 100000000" },
        { "envs.yaml", Cheetah + "ppo: {envs: 2000000000}" },
        { "batch.yaml", Cheetah + "ppo: {envs: 1024, rollout_steps: 1024}" },
        { "divisions.yaml", Cheetah + "soups: {divisions: 100000}" },
        { "lr.yaml", Cheetah + "ppo: {lr: NaN}" },
        { "episodes.yaml", Cheetah + "evaluation: {episodes: 1e309}" },
        { "cost.yaml", Cheetah.Replace("reward: risky", "reward: {name: default, terms: {forward_velocity: 1, control_cost: -Infinity}}") },
        { "key.yaml", Cheetah + "ppo: {[envs]: 4}" },
        { "duplicate.json", "{\"name\": \"x\", \"task\": \"cheetah\", \"name\": \"y\"}" },
        { "long.yaml", Cheetah.Replace("name: x", "name: " + new string('n', 5000)) },
        { "climb.yaml", Cheetah.Replace("name: x", "name: ../../../../x") },
        { "vocab.yaml", "name: x\ntask: reviews\npretrain: {steps: 1}\nexperts: {rewards: [positive, faithful], steps: 8}\ntext: {vocab: 60000}" },
        { "channels.yaml", "name: x\ntask: fashion\npretrain: {steps: 1}\nexperts: {rewards: [fidelity, minimalism], steps: 80}\nimage: {pretrain: {channels: 1024}}" },
    };

    /// <summary>What each hostile text's error says: the key at fault (or the file) and the limit.</summary>
    private static readonly Dictionary<string, string[]> Expected = new()
    {
        ["nested.yaml"] = ["'ppo[0][0][0]", $"nested deeper than {ConfigLimits.MaxDepth} levels"],
        ["laughs.yaml"] = ["'l4[", $"grows past {ConfigLimits.MaxNodes} values"],
        ["step.yaml"] = ["'soups.step': 1E-09 makes 1000000001 soups; at most 1001"],
        ["repeats.yaml"] = ["'repeats': must be at most 100, got 100000000"],
        ["envs.yaml"] = ["'ppo.envs': must be at most 1024, got 2000000000"],
        ["batch.yaml"] = ["'ppo.rollout_steps': ppo.envs × ppo.rollout_steps is 1048576 samples per rollout; at most 262144"],
        ["divisions.yaml"] = ["'soups.divisions': 100000 divisions for 2 experts make 100001 soups; at most 1001"],
        ["lr.yaml"] = ["'ppo.lr': NaN is not a finite number"],
        ["episodes.yaml"] = ["'evaluation.episodes': 1e309 is not a finite number"],
        ["cost.yaml"] = ["'pretrain.reward.terms.control_cost': -Infinity is not a finite number"],
        ["key.yaml"] = ["'ppo': a key must be a plain name, found a list"],
        ["duplicate.json"] = ["'name': the key appears twice"],
        ["long.yaml"] = ["'name': names the run folder runs/NAME, so it must be a plain name", $"at most {ConfigLimits.MaxNameLength} characters"],
        ["climb.yaml"] = ["'name': names the run folder runs/NAME, so it must be a plain name", "got \"../../../../x\""],
        ["vocab.yaml"] = ["'text.vocab': must be at most 50256, got 60000"],
        ["channels.yaml"] = ["'image.pretrain.channels': must be at most 256, got 1024"],
    };

    [Theory]
    [MemberData(nameof(HostileTexts))]
    public void Run_HostileConfiguration_Exit2OneLineNamingTheKeyNoRunFolder(string file, string text)
    {
        File.WriteAllText(_dir.File(file), text);
        AssertRefused(file, Expected[file]);
    }

    [Fact]
    public void Run_FiftyMegabyteFile_Exit2BeforeReadingIt()
    {
        using (var f = new FileStream(_dir.File("big.yaml"), FileMode.CreateNew)) f.SetLength(50L << 20);
        AssertRefused("big.yaml", $"is {50L << 20} bytes; a configuration may be at most {ConfigLimits.MaxFileBytes} bytes");
    }

    [Fact]
    public void Run_SymlinkToDevZero_Exit2()
    {
        File.CreateSymbolicLink(_dir.File("zero.yaml"), "/dev/zero");
        AssertRefused("zero.yaml", "empty, or not a regular file (a FIFO, device or socket)");
    }

    [Fact]
    public async Task Run_Fifo_Exit2WithoutBlocking()
    {
        await Fifo.Create(_dir.File("fifo.yaml"));
        Assert.True(await Fifo.FinishesWithoutBlocking(_dir.File("fifo.yaml"), () => AssertRefused("fifo.yaml", "empty, or not a regular file (a FIFO, device or socket)")),
            "soup run blocked on a FIFO");
    }

    [Fact]
    public void Run_NameClimbingOutOfRunsWithoutOut_RefusedAndNothingCreated()
    {
        // Without --out the run folder would be runs/NAME: a name that climbs to this test's folder is refused.
        string climb = string.Concat(Enumerable.Repeat("../", Directory.GetCurrentDirectory().Count(c => c == '/') + 1)) + _dir.File("escaped").TrimStart('/');
        File.WriteAllText(_dir.File("climb.yaml"), Cheetah.Replace("name: x", $"name: \"{climb}\""));
        var r = CliRunner.Run("run", _dir.File("climb.yaml"));
        Assert.Equal(2, r.Exit);
        Assert.Single(r.ErrLines);
        Assert.Contains("'name': names the run folder runs/NAME", r.Err);
        Assert.False(Directory.Exists(_dir.File("escaped")));
        Assert.Equal(["climb.yaml"], _dir.Entries());
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1025")]
    public void Run_JobsOutOfRange_Exit2(string jobs)
    {
        var r = CliRunner.Run("run", "tiny", "--out", _dir.File("never"), "--jobs", jobs);
        Assert.Equal(2, r.Exit);
        Assert.Equal([$"error: --jobs: must be in [0, {ConfigLimits.MaxParallelism}], got {jobs}"], r.ErrLines);
        Assert.False(Directory.Exists(_dir.File("never")));
    }

    public static TheoryData<string> BuiltInConfigs =>
        new(Directory.GetFiles(Path.Combine(CliRunner.RepositoryRoot(), "configs"), "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)!).Order());

    [Theory]
    [MemberData(nameof(BuiltInConfigs))]
    public void BuiltInConfig_LoadsWithinTheLimitsAndPlansAsCounted(string name)
    {
        string path = RunCommand.ResolveConfig(name);
        Assert.True(new FileInfo(path).Length < ConfigLimits.MaxFileBytes / 100, "a built-in configuration far below the size limit");
        ExperimentConfig config = ExperimentConfig.Load(path, Families.Catalogue);
        Assert.True(ExperimentConfig.IsPlainName(config.Name), config.Name);
        ExperimentPlan plan = ExperimentPlan.Create(config, _dir.File("run"));
        Assert.Equal(plan.Jobs.Count, ExperimentPlan.CountJobs(config));
        Assert.InRange(plan.Jobs.Count, 14, ConfigLimits.MaxJobs / 10);
        Assert.Empty(_dir.Entries());
    }

    private void AssertRefused(string file, params string[] expected)
    {
        var clock = Stopwatch.StartNew();
        var r = CliRunner.Run("run", _dir.File(file), "--out", _dir.File("never"));
        Assert.True(r.Exit == 2, r.Err);
        Assert.Single(r.ErrLines);
        Assert.StartsWith($"error: {_dir.File(file)}: ", r.Err);
        foreach (string part in expected) Assert.Contains(part, r.Err);
        Assert.DoesNotContain("unexpected", r.Err);
        Assert.False(Directory.Exists(_dir.File("never")), "a run folder was created for a refused configuration");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }
}
