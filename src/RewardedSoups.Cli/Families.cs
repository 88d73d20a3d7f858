using RewardedSoups.Environments;
using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tasks.Locomotion;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Cli;

/// <summary>
/// The composition root's list of task families: the one place that knows which exist. The pipeline,
/// the app, <c>soup train</c> and <c>soup eval</c> of a job folder reach them through <see cref="Catalogue"/>;
/// <c>soup eval</c> of a single locomotion policy file uses the locomotion helpers below.
/// </summary>
public static class Families
{
    public static TaskCatalogue Catalogue { get; } = new([new LocomotionFamily(), new TextFamily(), new ImageFamily()]);

    /// <summary>Tasks whose single policy files <c>soup eval</c> rolls out directly.</summary>
    public static IReadOnlyList<string> LocomotionNames => BuiltInLocomotion.Names;

    /// <summary>Returns the task name, or throws a one-line error listing the valid ones.</summary>
    public static string CheckLocomotion(string task) =>
        LocomotionNames.Contains(task) ? task : throw new SoupInputException($"unknown locomotion task '{task}'; valid: {string.Join(", ", LocomotionNames)}");

    public static IVectorEnv Create(string task, int numEnvs) => BuiltInLocomotion.Create(CheckLocomotion(task), numEnvs);
}
