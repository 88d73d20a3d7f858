using RewardedSoups.Environments;
using RewardedSoups.Tasks.Locomotion;

namespace RewardedSoups.Cli;

/// <summary>
/// The composition root's list of tasks: the one place that knows which task families exist.
/// Commands reach environments and named rewards only through it.
/// </summary>
public static class TaskCatalog
{
    /// <summary>The same catalogue for the runner layer.</summary>
    public static Runner.ITaskProvider Provider { get; } = new RunnerTasks();

    private sealed class RunnerTasks : Runner.ITaskProvider
    {
        public IReadOnlyList<string> TaskNames => Names;

        public IVectorEnv Create(string task, int numEnvs) => TaskCatalog.Create(task, numEnvs);

        public RewardFunction NamedReward(string task, string name) =>
            PresetRewards(Check(task)).FirstOrDefault(r => r.Name == name)
            ?? throw new SoupInputException($"unknown reward '{name}' for task '{task}'; named rewards: {string.Join(", ", PresetRewards(task).Select(r => r.Name))}; or give terms: {{name: ..., terms: {{term: weight}}}}");
    }

    public static IReadOnlyList<string> Names => LocomotionTasks.Names;

    /// <summary>Returns the task name, or throws a one-line error listing the valid ones.</summary>
    public static string Check(string task) =>
        Names.Contains(task) ? task : throw new SoupInputException($"unknown task '{task}'; valid: {string.Join(", ", Names)}");

    public static IVectorEnv Create(string task, int numEnvs) => LocomotionTasks.Create(Check(task), numEnvs);

    /// <summary>The task's named rewards (for locomotion, the paper's pair: risky and cautious).</summary>
    public static IReadOnlyList<RewardFunction> PresetRewards(string task) =>
        LocomotionTasks.RewardNames.Select(LocomotionTasks.Reward).ToList();

    /// <summary>A named reward of the task, or weighted terms (<c>forward_velocity=1,control_cost=-1</c>) checked against its terms.</summary>
    public static RewardFunction ResolveReward(string task, string text)
    {
        RewardFunction? preset = PresetRewards(task).FirstOrDefault(r => r.Name == text);
        if (preset is not null) return preset;
        using IVectorEnv probe = Create(task, 1);
        // A bare word that is not a preset: a single term, or a typo; either way check it against the terms.
        if (!text.Contains('=') && !probe.RewardTerms.Contains(text.Trim()))
            throw new SoupInputException($"unknown reward '{text}' for task '{task}'; named rewards: {string.Join(", ", PresetRewards(task).Select(r => r.Name))}; or weighted terms of: {string.Join(", ", probe.RewardTerms)}");
        RewardFunction reward = RewardFunction.Parse(text.Trim(), text);
        reward.Resolve(probe.RewardTerms);
        return reward;
    }
}
