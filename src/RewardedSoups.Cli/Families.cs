using RewardedSoups.Environments;
using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tasks.Locomotion;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Cli;

/// <summary>
/// The composition root's list of task families: the one place that knows which exist. The pipeline
/// and the app reach them through <see cref="Catalogue"/>; <c>soup train</c> and <c>soup eval</c>
/// work on single locomotion policies and use the locomotion helpers below.
/// </summary>
public static class Families
{
    public static TaskCatalogue Catalogue { get; } = new([new LocomotionFamily(), new TextFamily(), new ImageFamily()]);

    /// <summary>Tasks that <c>soup train</c> and <c>soup eval</c> work on (single PPO policies).</summary>
    public static IReadOnlyList<string> LocomotionNames => BuiltInLocomotion.Names;

    /// <summary>Returns the task name, or throws a one-line error listing the valid ones.</summary>
    public static string CheckLocomotion(string task) =>
        LocomotionNames.Contains(task) ? task : throw new SoupInputException($"unknown locomotion task '{task}'; valid: {string.Join(", ", LocomotionNames)}");

    public static IVectorEnv Create(string task, int numEnvs) => BuiltInLocomotion.Create(CheckLocomotion(task), numEnvs);

    /// <summary>The task's named rewards (for locomotion, the paper's pair: risky and cautious).</summary>
    public static IReadOnlyList<RewardFunction> PresetRewards(string task) => Catalogue.Family(task).NamedRewards(task);

    /// <summary>A named reward of the task, or weighted terms (<c>forward_velocity=1,control_cost=-1</c>) checked against its terms.</summary>
    public static RewardFunction ResolveReward(string task, string text) => Catalogue.ParseReward(task, text);
}
