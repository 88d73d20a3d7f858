using System.Diagnostics;
using Xunit.Abstractions;

namespace RewardedSoups.Tasks.Locomotion.Tests;

/// <summary>A timing is only meaningful alone: this runs after the parallel tests, by itself.</summary>
[CollectionDefinition(nameof(ThroughputTests), DisableParallelization = true)]
public sealed class ThroughputTestsCollection;

[Collection(nameof(ThroughputTests))]
public sealed class ThroughputTests(ITestOutputHelper output)
{
    /// <summary>
    /// Prints the raw simulation rate (16 cheetahs, zero actions, frame skip 5) that PPO training is
    /// compared against; it asserts only what must hold whatever the machine: every step simulated 0.05 s.
    /// </summary>
    [Fact]
    public void Step_Cheetah16Envs_PrintsRawRate()
    {
        using LocomotionEnv env = BuiltInLocomotion.Create("cheetah", 16);
        var s = new Fixtures.StepBuffers(env);
        for (int t = 0; t < 100; t++) s.Step(); // past the JIT's first tiers
        env.Reset(1);
        // Best of three batches, all within one episode so that simulated time counts every step.
        const int Batches = 3, Steps = 300;
        double best = 0;
        for (int b = 0; b < Batches; b++)
        {
            var clock = Stopwatch.StartNew();
            for (int t = 0; t < Steps; t++) s.Step();
            best = Math.Max(best, Steps * env.NumEnvs / clock.Elapsed.TotalSeconds);
        }
        output.WriteLine($"perf/raw_env_steps_per_s cheetah x16, frame skip 5, best of {Batches}: {best:F0} ({best * 5:F0} MuJoCo steps/s)");
        Assert.Equal(Batches * Steps * 0.05, env.DataOf(15).Time, 9);
        Assert.Equal(0, env.InvalidEpisodes);
    }
}
