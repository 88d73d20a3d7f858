using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RewardedSoups.Environments;
using RewardedSoups.Tasks;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup train</c>: one training of any task family (a shared init, or an expert / MORL policy fine-tuned
/// from one) in its own resumable folder, through <see cref="ITaskFamily.Train"/>, the same call a run's
/// jobs make. The family's settings come from its configuration section, given here as <c>--set KEY=VALUE</c>
/// (keys as in a configuration file, e.g. <c>envs=8</c> for locomotion, <c>ppo.batch=16</c> for text), read
/// and checked by the family exactly as a configuration's.
/// </summary>
public static class TrainCommand
{
    /// <summary>The locomotion shortcuts for keys of its <c>ppo</c> section, kept for the commands users already run.</summary>
    private static readonly (string Option, string Key, string Description)[] PpoShortcuts =
    [
        ("--envs", "envs", "Environments stepped together (locomotion; --set envs=N)."),
        ("--rollout-steps", "rollout_steps", "Steps per environment per rollout (locomotion; --set rollout_steps=N)."),
        ("--minibatches", "minibatches", "Minibatches per epoch (locomotion; --set minibatches=N)."),
        ("--epochs", "epochs", "Epochs per update (locomotion; --set epochs=N)."),
        ("--lr", "lr", "Adam learning rate, annealed to 0 (locomotion; --set lr=X)."),
    ];

    public static Command Create(CommandContext context)
    {
        var task = new Option<string>("--task") { Description = $"Task: {string.Join(", ", Families.TaskNames)}.", Required = true };
        var reward = new Option<string?>("--reward")
        {
            Description = "A named reward of the task (e.g. risky, cautious) or weighted terms, e.g. forward_velocity=1,control_cost=-1. " +
                          "Required for experts and for a locomotion init; a text or image init is pre-trained without one.",
        };
        var output = new Option<string>("--output", "-o") { Description = "Job folder (created; a re-run with the same settings resumes).", Required = true };
        var steps = new Option<long>("--steps")
        {
            Description = "Training budget in the task's unit: locomotion environment steps; text and image: pre-training steps for an init, RL responses or generated images for an expert.",
            Required = true,
        };
        var seed = new Option<int>("--seed") { Description = "Seed of everything random.", DefaultValueFactory = _ => 1 };
        var init = new Option<string?>("--init")
        {
            Description = "The shared init to fine-tune from: its training folder (or the policy in it). Without it, the job trains an init.",
        };
        Option<string[]> set = SettingsOptions.Create();
        var shortcuts = PpoShortcuts.Select(s => (s.Key, Option: new Option<string?>(s.Option) { Description = s.Description })).ToList();
        var threads = TorchThreadsOption.Create("Threads for libtorch.");
        var command = new Command("train", "Train one policy of a task through its family (an init, or an expert fine-tuned from --init) in a resumable folder.")
        {
            task, reward, output, steps, seed, init, set, threads,
        };
        foreach ((_, Option<string?> option) in shortcuts) command.Options.Add(option);
        command.SetAction(parsed => context.Run(() =>
        {
            string taskName = parsed.GetValue(task)!;
            ITaskFamily family = Families.Catalogue.Family(taskName);
            var section = new JsonObject();
            foreach ((string key, Option<string?> option) in shortcuts)
            {
                if (parsed.GetValue(option) is not { } value) continue;
                if (family.SettingsKey != "ppo") throw new SoupInputException($"{option.Name} is an option of locomotion's PPO; for task '{taskName}' give its {family.SettingsKey} keys with --set");
                SettingsOptions.Set(section, key, value, option.Name);
            }
            ISettingsSection settings = SettingsOptions.Read(family, taskName, section, parsed.GetValue(set));

            long budget = parsed.GetValue(steps);
            if (budget < 0) throw new SoupInputException($"--steps must be ≥ 0, got {budget}");
            string? initArg = parsed.GetValue(init);
            TrainRole role = initArg is null ? TrainRole.Init : TrainRole.Expert;
            string? initDir = initArg is null ? null : InitFolder(family, initArg);
            string? rewardText = parsed.GetValue(reward);
            RewardFunction? rewardFunction = rewardText is null ? null : Families.Catalogue.ParseReward(taskName, rewardText);
            if (rewardFunction is null && (role != TrainRole.Init || family.InitUsesReward))
                throw new SoupInputException($"--reward is required: {(role == TrainRole.Init ? $"the {family.Name} init is trained on a reward" : "an expert is fine-tuned on a reward")}");
            if (rewardFunction is not null && role == TrainRole.Init && !family.InitUsesReward)
                throw new SoupInputException($"--reward: the {family.Name} init is pre-trained without a reward; drop --reward, or give --init to fine-tune an expert");

            TorchThreadsOption.Apply(parsed, threads);
            string dir = parsed.GetValue(output)!;
            family.Train(new TrainJobSpec(taskName, role, dir, initDir, rewardFunction, budget, parsed.GetValue(seed), settings),
                line => context.Error.WriteLine(line), context.Cancel);
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{dir}: trained {(role == TrainRole.Init ? "an init" : "an expert")} of {taskName} ({family.SpentBudget(role, budget, settings)} {family.CostUnit}); policy: {family.PolicyPath(dir, role)}"));
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>The init's job folder from <c>--init</c>: the folder itself, or the family's init policy inside it.</summary>
    private static string InitFolder(ITaskFamily family, string init)
    {
        string full = Path.GetFullPath(init);
        string? parent = Path.GetDirectoryName(full);
        if (parent is not null && Path.GetFullPath(family.PolicyPath(parent, TrainRole.Init)) == full) return parent;
        string policy = family.PolicyPath(full, TrainRole.Init);
        if (!File.Exists(policy) && !Directory.Exists(policy))
            throw new SoupInputException($"--init {init}: holds no {family.Name} init ({policy} is missing); give the init's training folder");
        return full;
    }
}
