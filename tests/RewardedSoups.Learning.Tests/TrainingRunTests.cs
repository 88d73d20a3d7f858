using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

public sealed class TrainingRunTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly RewardFunction Closeness = new("closeness", new Dictionary<string, double> { ["closeness"] = 1 });
    private static readonly RewardFunction Lazy = new("lazy", new Dictionary<string, double> { ["closeness"] = 1, ["effort"] = -5 });
    private static readonly PpoSettings Small = new() { Envs = 8, RolloutSteps = 100, Minibatches = 4, Epochs = 4, Lr = 3e-3 };

    private static TrainingSpec Spec(RewardFunction reward, long steps, string? init = null, int seed = 1) =>
        new("point-mass", reward, steps, seed, init, Small);

    [Fact]
    public void Run_WritesPolicyCheckpointSettingsAndLog()
    {
        string dir = _dir.File("run");
        TrainingResult result = TrainingRun.Run(dir, Spec(Closeness, 2400), n => new PointMassEnv(n));
        Assert.Equal(3, result.Updates);
        Assert.Equal(2400, result.Steps);
        string[] log = File.ReadAllLines(Path.Combine(dir, TrainingRun.LogFile));
        Assert.StartsWith("update,global_step,charts/episodic_return", log[0]);
        Assert.EndsWith("terms/closeness,terms/effort", log[0]);
        Assert.Equal(["1", "2", "3"], log.Skip(1).Select(l => l.Split(',')[0]));
        (_, _, PolicyInfo info) = PolicyCheckpoint.Load(result.PolicyPath, "point-mass");
        Assert.Equal(2400, info.Steps);
        Assert.Equal("closeness", info.Reward!.Name);
    }

    [Fact]
    public void Run_AnUpdateInWhichNoEpisodeEnded_LogsAnEmptyReturn_NotNaN()
    {
        // 40 steps per environment per update, episodes of 50: the first update ends none, the second ends one per environment.
        string dir = _dir.File("run");
        TrainingRun.Run(dir, new TrainingSpec("point-mass", Closeness, 640, 1, null, Small with { RolloutSteps = 40 }), n => new PointMassEnv(n));
        string[][] rows = File.ReadAllLines(Path.Combine(dir, TrainingRun.LogFile)).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.Equal(("", "0"), (rows[0][2], rows[0][3]));
        Assert.Equal("8", rows[1][3]);
        Assert.True(double.IsFinite(double.Parse(rows[1][2], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.DoesNotContain(rows, r => r.Any(c => c.Contains("NaN", StringComparison.Ordinal) || c.Contains("Infinity", StringComparison.Ordinal)));
    }

    [Fact]
    public void Run_Again_ResumesAndDoesNotRedoFinishedWork()
    {
        string dir = _dir.File("run");
        TrainingRun.Run(dir, Spec(Closeness, 1600), n => new PointMassEnv(n));
        byte[] policy = File.ReadAllBytes(Path.Combine(dir, TrainingRun.PolicyFile));
        TrainingResult again = TrainingRun.Run(dir, Spec(Closeness, 1600), n => new PointMassEnv(n));
        Assert.True(again.Resumed);
        Assert.Null(again.Last); // nothing left to do
        Assert.Equal(policy, File.ReadAllBytes(Path.Combine(dir, TrainingRun.PolicyFile)));
    }

    [Fact]
    public void Run_KilledAfterAnUpdate_ContinuesFromIt()
    {
        string dir = _dir.File("run");
        using var cancel = new CancellationTokenSource();
        // Stop after the second update, as a kill between updates would.
        Assert.ThrowsAny<OperationCanceledException>(() =>
            TrainingRun.Run(dir, Spec(Closeness, 4000), n => new PointMassEnv(n), log => { if (log.Update == 2) cancel.Cancel(); }, cancel.Token));
        var updates = new List<int>();
        TrainingResult result = TrainingRun.Run(dir, Spec(Closeness, 4000), n => new PointMassEnv(n), log => updates.Add(log.Update));
        Assert.True(result.Resumed);
        Assert.Equal([3, 4, 5], updates);
        Assert.Equal(["1", "2", "3", "4", "5"], File.ReadAllLines(Path.Combine(dir, TrainingRun.LogFile)).Skip(1).Select(l => l.Split(',')[0]));
    }

    [Fact]
    public void Run_OtherSettingsInSameFolder_Refused()
    {
        string dir = _dir.File("run");
        TrainingRun.Run(dir, Spec(Closeness, 800), n => new PointMassEnv(n));
        var e = Assert.Throws<SoupInputException>(() => TrainingRun.Run(dir, Spec(Closeness, 800, seed: 2), n => new PointMassEnv(n)));
        Assert.Contains("holds a training with other settings", e.Message);
    }

    [Fact]
    public void Run_FromInit_KeepsTheInitsNormaliserAndRecordsParent()
    {
        string init = TrainingRun.Run(_dir.File("init"), Spec(Closeness, 1600), n => new PointMassEnv(n)).PolicyPath;
        string expert = TrainingRun.Run(_dir.File("expert"), Spec(Lazy, 1600, init), n => new PointMassEnv(n)).PolicyPath;
        using Checkpoint a = Checkpoint.Open(init), b = Checkpoint.Open(expert);
        foreach (string name in new[] { "obs_norm.mean", "obs_norm.var", "obs_norm.count" })
        {
            Assert.True(a.TryGet(name, out CheckpointTensor ta));
            Assert.True(b.TryGet(name, out CheckpointTensor tb));
            Assert.Equal(ta.File.ReadAll(ta.Info), tb.File.ReadAll(tb.Info));
        }
        (_, _, PolicyInfo info) = PolicyCheckpoint.Load(expert);
        Assert.Equal(Path.GetFullPath(init), info.Parent);
        Assert.Equal(3200, info.Steps);
    }

    [Fact]
    public void Evaluate_TrainedBeatsUntrained_WithIntervals()
    {
        string trained = TrainingRun.Run(_dir.File("run"), Spec(Closeness, 8 * 100 * 25), n => new PointMassEnv(n)).PolicyPath;
        using var untrained = new GaussianPolicy(2, 1);
        (GaussianPolicy policy, RunningMeanStd norm, _) = PolicyCheckpoint.Load(trained);
        using (policy)
        {
            using var env = new PointMassEnv(16);
            var good = PolicyEvaluation.Estimate(PolicyEvaluation.Run(policy, norm, env, seed: 5), env.RewardTerms, [Closeness]).Single();
            var bad = PolicyEvaluation.Estimate(PolicyEvaluation.Run(untrained, new RunningMeanStd(2), env, seed: 5), env.RewardTerms, [Closeness]).Single();
            Assert.Equal(16, good.Return.Count);
            Assert.True(good.Return.Mean > bad.Return.Mean && good.Return.DisjointFrom(bad.Return), $"{good.Return} vs {bad.Return}");
        }
    }
}
