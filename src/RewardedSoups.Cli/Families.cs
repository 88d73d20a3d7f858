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
    private static readonly Lazy<TaskCatalogue> Built = new(() =>
    {
        Learning.BlasReproducibility.Ensure();
        return new TaskCatalogue([new LocomotionFamily(), new TextFamily(), new ImageFamily()]);
    });

    /// <summary>
    /// The families, built on first use: they compute with libtorch, whose loading (~110 MiB, ~0.3 s) <c>soup merge</c>,
    /// <c>inspect</c> and <c>front</c> never need. MKL's reproducible mode is set before any family exists, as it was
    /// when every command's start-up loaded them (a family's assembly sets it too, but only once one of its static
    /// members is first used, which a family's instance methods need not do).
    /// </summary>
    public static TaskCatalogue Catalogue => Built.Value;

    /// <summary>
    /// The tasks' names without loading any family, for help texts (a test checks they are <see cref="Catalogue"/>'s).
    /// The locomotion names are written out: <see cref="BuiltInLocomotion.Names"/> would load its assembly.
    /// </summary>
    public static IReadOnlyList<string> TaskNames { get; } = ["cheetah", "hopper", "humanoid", TextFamily.Task, ImageFamily.Task];

    /// <summary>Tasks whose single policy files <c>soup eval</c> rolls out directly.</summary>
    public static IReadOnlyList<string> LocomotionNames => BuiltInLocomotion.Names;

    /// <summary>Returns the task name, or throws a one-line error listing the valid ones.</summary>
    public static string CheckLocomotion(string task) =>
        LocomotionNames.Contains(task) ? task : throw new SoupInputException($"unknown locomotion task '{task}'; valid: {string.Join(", ", LocomotionNames)}");

    public static IVectorEnv Create(string task, int numEnvs) => BuiltInLocomotion.Create(CheckLocomotion(task), numEnvs);
}
