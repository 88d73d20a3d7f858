using System.CommandLine;
using System.Globalization;
using RewardedSoups.Learning;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup train</c>: one PPO training (a shared init, an expert, or a MORL run) in its own resumable folder.</summary>
public static class TrainCommand
{
    public static Command Create(CommandContext context)
    {
        var task = new Option<string>("--task") { Description = $"Locomotion task: {string.Join(", ", Families.LocomotionNames)}.", Required = true };
        var reward = new Option<string>("--reward")
        {
            Description = "A named reward of the task (e.g. risky, cautious) or weighted terms, e.g. forward_velocity=1,control_cost=-1.",
            Required = true,
        };
        var output = new Option<string>("--output", "-o") { Description = "Run folder (created; a re-run with the same settings resumes).", Required = true };
        var steps = new Option<long>("--steps") { Description = "Environment steps (rounded up to whole rollouts).", DefaultValueFactory = _ => 1_000_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of everything random.", DefaultValueFactory = _ => 1 };
        var init = new Option<string?>("--init") { Description = "Policy checkpoint to fine-tune from; its observation normaliser is frozen, so experts stay soupable." };
        var envs = new Option<int>("--envs") { Description = "Environments stepped together.", DefaultValueFactory = _ => new PpoSettings().Envs };
        var rollout = new Option<int>("--rollout-steps") { Description = "Steps per environment per rollout.", DefaultValueFactory = _ => new PpoSettings().RolloutSteps };
        var minibatches = new Option<int>("--minibatches") { Description = "Minibatches per epoch.", DefaultValueFactory = _ => new PpoSettings().Minibatches };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per update.", DefaultValueFactory = _ => new PpoSettings().Epochs };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate (annealed to 0).", DefaultValueFactory = _ => new PpoSettings().Lr };
        var threads = new Option<int>("--threads") { Description = "Threads for libtorch.", DefaultValueFactory = _ => 1 };
        var command = new Command("train", "Train a policy with PPO on a task's reward; writes policy.safetensors, a resumable checkpoint and train_log.csv.")
        {
            task, reward, output, steps, seed, init, envs, rollout, minibatches, epochs, lr, threads,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            string taskName = Families.CheckLocomotion(parsed.GetValue(task)!);
            var ppo = new PpoSettings
            {
                Envs = parsed.GetValue(envs),
                RolloutSteps = parsed.GetValue(rollout),
                Minibatches = parsed.GetValue(minibatches),
                Epochs = parsed.GetValue(epochs),
                Lr = parsed.GetValue(lr),
            };
            ppo.Validate();
            int threadCount = parsed.GetValue(threads);
            if (threadCount < 1) throw new SoupInputException($"--threads must be ≥ 1, got {threadCount}");
            TorchSharp.torch.set_num_threads(threadCount);
            var spec = new TrainingSpec(taskName, Families.ResolveReward(taskName, parsed.GetValue(reward)!), parsed.GetValue(steps),
                parsed.GetValue(seed), parsed.GetValue(init), ppo);
            string dir = parsed.GetValue(output)!;
            int total = (int)((spec.Steps + ppo.BatchSize - 1) / ppo.BatchSize);
            int every = Math.Max(1, total / 20);
            TrainingResult result = TrainingRun.Run(dir, spec, n => Families.Create(taskName, n), log =>
            {
                if (log.Update % every == 0 || log.Update == total || log.Update == 1)
                    context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"update {log.Update}/{total}  steps {log.GlobalStep}  return {log.EpisodicReturn:F1} ({log.Episodes} episodes)  sps {log.StepsPerSecond:F0}  kl {log.ApproxKl:F4}"));
            }, context.Cancel);
            context.Out.WriteLine(result.Last is null
                ? $"{dir}: already trained ({result.Updates} updates, {result.Steps} steps); policy: {result.PolicyPath}"
                : $"{dir}: {result.Updates} updates, {result.Steps} steps{(result.Resumed ? " (resumed)" : "")}; policy: {result.PolicyPath}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
