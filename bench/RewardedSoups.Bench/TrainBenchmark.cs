using System.Diagnostics;
using System.Globalization;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Tasks.Locomotion;

namespace RewardedSoups.Bench;

/// <summary>
/// PPO training throughput against the raw simulation rate, in one run, on one core: the raw rate
/// steps the same task's vectorised environment (16 instances, frame-skip, zero actions) with nothing
/// else; training runs PPO with its default settings and libtorch on one thread. Alternated, best of
/// each reported. Goals: training ≥ 50% of raw, and ≥ 6,500 env steps/s. <c>--hidden</c>, <c>--envs</c> and
/// <c>--epochs</c> override PPO's defaults (the humanoid's configurations use wider layers).
/// </summary>
public static class TrainBenchmark
{
    public static int Run(string[] args)
    {
        string task = Program.Option(args, "--task", "cheetah");
        int updates = int.Parse(Program.Option(args, "--updates", "8"), CultureInfo.InvariantCulture);
        int runs = int.Parse(Program.Option(args, "--runs", "3"), CultureInfo.InvariantCulture);
        TorchSharp.torch.set_num_threads(1);
        var defaults = new PpoSettings();
        var settings = defaults with
        {
            Hidden = int.Parse(Program.Option(args, "--hidden", defaults.Hidden.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            Envs = int.Parse(Program.Option(args, "--envs", defaults.Envs.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            Epochs = int.Parse(Program.Option(args, "--epochs", defaults.Epochs.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
        };
        long steps = (long)updates * settings.BatchSize;
        var raw = new List<double>();
        var train = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            raw.Add(RawRate(task, settings.Envs, steps));
            train.Add(TrainRate(task, settings, steps, seed: r + 1));
            Console.Error.WriteLine($"run {r + 1}: raw {raw[^1]:F0} steps/s, training {train[^1]:F0} steps/s, ratio {train[^1] / raw[^1]:F2}");
        }
        Console.WriteLine();
        Console.WriteLine("| task | raw simulation (best, steps/s) | PPO training (best, steps/s) | training / raw |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {task}, {settings.Envs} envs, hidden {settings.Hidden}, {settings.Epochs} epochs, 1 thread | {raw.Max():F0} | {train.Max():F0} | **{train.Max() / raw.Max():F2}** |"));
        return 0;
    }

    private static double RawRate(string task, int envs, long steps)
    {
        using LocomotionEnv env = BuiltInLocomotion.Create(task, envs);
        var actions = new float[envs * env.ActionSize];
        var terms = new float[envs * env.RewardTerms.Count];
        var terminated = new bool[envs];
        var truncated = new bool[envs];
        env.Reset(1);
        var clock = Stopwatch.StartNew();
        for (long s = 0; s < steps; s += envs) env.Step(actions, terms, terminated, truncated);
        return steps / clock.Elapsed.TotalSeconds;
    }

    private static double TrainRate(string task, PpoSettings settings, long steps, int seed)
    {
        using LocomotionEnv env = BuiltInLocomotion.Create(task, settings.Envs);
        using var policy = new GaussianPolicy(env.ObservationSize, env.ActionSize, settings.Hidden);
        RewardFunction reward = BuiltInLocomotion.Reward("risky");
        using var trainer = new PpoTrainer(env, reward, settings, seed, policy, new RunningMeanStd(env.ObservationSize));
        var clock = Stopwatch.StartNew();
        trainer.Train(steps, _ => { });
        return trainer.GlobalStep / clock.Elapsed.TotalSeconds;
    }
}
