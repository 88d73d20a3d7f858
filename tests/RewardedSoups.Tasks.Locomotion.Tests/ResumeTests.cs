using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Tasks.Locomotion;
using RewardedSoups.Tasks.Locomotion.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// A training killed after any update and resumed ends exactly where an uninterrupted one does: the
/// checkpoint holds every environment's simulator state, episode counters and noise streams, besides the
/// policy, normalisers, Adam and the sampler's random state.
/// </summary>
public sealed class ResumeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // 6 updates of 4 × 64 steps; the cheetah's episodes (1,000 steps) span every update boundary.
    private static TrainingSpec Spec(string? init = null) =>
        new("cheetah", BuiltInLocomotion.Reward("cautious"), 6 * 256, 3, init, new PpoSettings { Envs = 4, RolloutSteps = 64, Minibatches = 2, Epochs = 2 });

    [Theory]
    [InlineData(1)]
    [InlineData(3, 5)]
    [InlineData(2, 3, 4)]
    public void Training_KilledAfterUpdates_ResumesToTheUninterruptedPolicyAndLog(params int[] killsAfter)
    {
        string whole = Path.Combine(_dir.Path, "whole");
        TrainingRun.Run(whole, Spec(), n => BuiltInLocomotion.Create("cheetah", n));

        string killed = Path.Combine(_dir.Path, "killed");
        foreach (int k in killsAfter)
        {
            using var cancel = new CancellationTokenSource();
            Assert.ThrowsAny<OperationCanceledException>(() =>
                TrainingRun.Run(killed, Spec(), n => BuiltInLocomotion.Create("cheetah", n), log => { if (log.Update == k) cancel.Cancel(); }, cancel.Token));
        }
        TrainingRun.Run(killed, Spec(), n => BuiltInLocomotion.Create("cheetah", n));

        Assert.Equal(Tensors(Path.Combine(whole, TrainingRun.PolicyFile)), Tensors(Path.Combine(killed, TrainingRun.PolicyFile)));
        Assert.Equal(LogWithoutTimings(whole), LogWithoutTimings(killed));
    }

    [Fact]
    public void Environment_CapturedAndRestored_StepsExactlyAsTheOriginal()
    {
        using var a = BuiltInLocomotion.Create("hopper", 3);
        a.Reset(5);
        var random = new Random(1);
        float[] actions = new float[3 * a.ActionSize], terms = new float[3 * a.RewardTerms.Count];
        bool[] terminated = new bool[3], truncated = new bool[3];
        void Act() { for (int i = 0; i < actions.Length; i++) actions[i] = (float)(2 * random.NextDouble() - 1); }
        for (int t = 0; t < 150; t++) { Act(); a.Step(actions, terms, terminated, truncated); }   // hoppers fall: episodes end and reset
        EnvState state = a.CaptureState();
        using var b = BuiltInLocomotion.Create("hopper", 3);
        b.RestoreState(state);
        Assert.Equal(a.Observations.ToArray(), b.Observations.ToArray());
        float[] termsB = new float[terms.Length];
        bool[] terminatedB = new bool[3], truncatedB = new bool[3];
        for (int t = 0; t < 300; t++)
        {
            Act();
            a.Step(actions, terms, terminated, truncated);
            b.Step(actions, termsB, terminatedB, truncatedB);
            Assert.Equal(terms, termsB);
            Assert.Equal(terminated, terminatedB);
            Assert.Equal(a.Observations.ToArray(), b.Observations.ToArray());
        }
        Assert.Equal(a.InvalidEpisodes, b.InvalidEpisodes);
        Assert.Throws<ArgumentException>(() => BuiltInLocomotion.Create("hopper", 2).RestoreState(state));
    }

    private static Dictionary<string, byte[]> Tensors(string path)
    {
        using Checkpoint c = Checkpoint.Open(path);
        return c.Tensors.ToDictionary(t => t.Info.Name, t => t.File.ReadAll(t.Info));
    }

    /// <summary>train_log.csv without the columns that time the work (perf/*).</summary>
    private static string[] LogWithoutTimings(string dir)
    {
        string[] lines = File.ReadAllLines(Path.Combine(dir, TrainingRun.LogFile));
        string[] header = lines[0].Split(',');
        int[] keep = Enumerable.Range(0, header.Length).Where(i => !header[i].StartsWith("perf/", StringComparison.Ordinal)).ToArray();
        return lines.Select(l => string.Join(",", keep.Select(i => l.Split(',')[i]))).ToArray();
    }
}
