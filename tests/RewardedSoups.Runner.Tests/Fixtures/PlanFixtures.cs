using RewardedSoups.Runner;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>Configurations and plans of the <see cref="FakeFamily"/> for the runner's unit tests, and a job marked finished by hand.</summary>
public static class PlanFixtures
{
    /// <summary>
    /// The small experiment of these tests, to append to <see cref="FakeFamily.Yaml"/>: experts a and b, soups
    /// λ = (1, 0), (0.5, 0.5), (0, 1) (ids soup-01 to soup-03), one MORL preference μ = (0.5, 0.5).
    /// Per training seed: the init, 2 experts, 1 MORL policy and 3 soups, and an evaluation of each: 14 jobs.
    /// </summary>
    public const string Small = "soups: {step: 0.5}\nmorl: {preferences: [0.5]}";

    /// <summary>The configuration of a YAML text, read as a file of <paramref name="dir"/> (each call its own file).</summary>
    public static ExperimentConfig Load(TempDir dir, string yaml)
    {
        string path = dir.File($"config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return ExperimentConfig.Load(path, FakeFamily.Catalogue);
    }

    /// <summary>The plan of <see cref="FakeFamily.Yaml"/> with <paramref name="extra"/> lines, in <paramref name="dir"/>/run (nothing created).</summary>
    public static ExperimentPlan Plan(TempDir dir, string extra = Small) => ExperimentPlan.Create(Load(dir, FakeFamily.Yaml(extra)), dir.File("run"));

    /// <summary>Marks a job finished as a job process would at its end (its folder made first).</summary>
    public static void Finish(ExperimentPlan plan, Job job)
    {
        Directory.CreateDirectory(plan.JobDir(job));
        plan.MarkDone(job);
    }
}
