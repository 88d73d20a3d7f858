using RewardedSoups.Runner;
using RewardedSoups.Soup;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The plan of an experiment: its jobs per training seed, their dependencies, the keys that decide what is redone, and the finished-job markers.</summary>
public sealed class ExperimentPlanTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ExperimentPlan Plan(string extra = PlanFixtures.Small) => PlanFixtures.Plan(_dir, extra);

    /// <summary>The small plan with other pretrain and experts sections (which FakeFamily.Yaml fixes).</summary>
    private ExperimentPlan PlanWith(string pretrain = "{reward: a, steps: 10}", string experts = "{rewards: [a, b], steps: 10}") =>
        ExperimentPlan.Create(PlanFixtures.Load(_dir, $"name: fake-run\ntask: fake\npretrain: {pretrain}\nexperts: {experts}\n{PlanFixtures.Small}\n"), _dir.File("run"));

    /// <summary>The ids present in both plans whose keys differ, sorted.</summary>
    private static string[] Changed(ExperimentPlan before, ExperimentPlan after)
    {
        Dictionary<string, string> keys = before.Jobs.ToDictionary(j => j.Id, j => j.Key);
        return after.Jobs.Where(j => keys.TryGetValue(j.Id, out string? key) && key != j.Key).Select(j => j.Id).Order(StringComparer.Ordinal).ToArray();
    }

    private static string[] Ids(ExperimentPlan plan, Func<Job, bool> which) =>
        plan.Jobs.Where(which).Select(j => j.Id).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether the init counts as done when its job.json holds <paramref name="marker"/>.</summary>
    private bool IsDoneWithMarker(string marker)
    {
        ExperimentPlan plan = Plan();
        Job init = plan.Get("s1-init");
        Directory.CreateDirectory(plan.JobDir(init));
        File.WriteAllText(Path.Combine(plan.JobDir(init), "job.json"), marker);
        return plan.IsDone(init);
    }

    private static string[] Sorted(params string[] ids) => ids.Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void SoupKeys_NameARevisedRule_SoAnOlderRulesSoupsAreMadeAgain()
    {
        // DARE's draws changed on 2026-12-04 (revision 2): its soup jobs' keys say so; methods never revised keep the keys they had.
        SoupMethod dare = new("dare_ties", MergeMethods.Find("dare_ties")!, new DareParameters { Density = 0.5, Seed = 1 });
        SoupMethod ties = new("ties", MergeMethods.Find("ties")!, new TiesParameters { Density = 0.5 });
        Assert.Equal(2, dare.Method.Revision);
        Assert.EndsWith(" revision 2", ExperimentPlan.SoupHow("dare_ties", dare));
        Assert.Equal($"ties {ties.ToJson().ToJsonString()}", ExperimentPlan.SoupHow("ties", ties));
        Assert.Equal("linear", ExperimentPlan.SoupHow("linear", SoupMethod.Linear));
    }

    private static readonly string[] SmallPolicies =
        ["s1-init", "s1-expert-1", "s1-expert-2", "s1-morl-1", "s1-soup-01", "s1-soup-02", "s1-soup-03"];

    [Fact]
    public void Create_OneTrainingSeed_InitExpertsMorlSoupsAndAnEvalOfEach()
    {
        ExperimentPlan plan = Plan();
        Assert.Equal(Sorted([.. SmallPolicies, .. SmallPolicies.Select(p => p + "-eval")]), Ids(plan, _ => true));
        Assert.All(plan.Jobs, j => Assert.Equal(1, j.Seed));
        Assert.Equal(Sorted("s1-init", "s1-expert-1", "s1-expert-2", "s1-morl-1"), Ids(plan, j => j.Kind == JobKind.Train));
        Assert.Equal(Sorted("s1-soup-01", "s1-soup-02", "s1-soup-03"), Ids(plan, j => j.Kind == JobKind.Soup));
        Assert.Equal(7, plan.Jobs.Count(j => j.Kind == JobKind.Eval));
    }

    [Fact]
    public void Create_Jobs_DependOnWhatTheyUse()
    {
        ExperimentPlan plan = Plan();
        Assert.Empty(plan.Get("s1-init").DependsOn);
        Assert.Equal(["s1-init"], plan.Get("s1-expert-1").DependsOn);
        Assert.Equal(["s1-init"], plan.Get("s1-expert-2").DependsOn);
        Assert.Equal(["s1-init"], plan.Get("s1-morl-1").DependsOn);
        foreach (string soup in new[] { "s1-soup-01", "s1-soup-02", "s1-soup-03" })
            Assert.Equal(Sorted("s1-init", "s1-expert-1", "s1-expert-2"), Sorted([.. plan.Get(soup).DependsOn]));
        foreach (string policy in SmallPolicies)
        {
            Job eval = plan.Get(policy + "-eval");
            Assert.Equal(JobKind.Eval, eval.Kind);
            Assert.Equal([policy], eval.DependsOn);
            Assert.Equal(policy, eval.Policy);
        }
    }

    [Fact]
    public void Create_Jobs_CarryTheirRoleExpertAndWeights()
    {
        ExperimentPlan plan = Plan();
        Assert.Equal("init", plan.Get("s1-init").Role);
        Assert.Equal(("expert", 0), (plan.Get("s1-expert-1").Role, plan.Get("s1-expert-1").Expert));
        Assert.Equal(("expert", 1), (plan.Get("s1-expert-2").Role, plan.Get("s1-expert-2").Expert));
        Assert.Equal("morl", plan.Get("s1-morl-1").Role);
        Assert.Equal([0.5, 0.5], plan.Get("s1-morl-1").Preference!);
        // λ is expert 1's weight first; the grid of step 0.5 runs from expert 1 alone to expert 2 alone.
        Assert.Equal([1.0, 0.0], plan.Get("s1-soup-01").Lambda!);
        Assert.Equal([0.5, 0.5], plan.Get("s1-soup-02").Lambda!);
        Assert.Equal([0.0, 1.0], plan.Get("s1-soup-03").Lambda!);
        Assert.All(plan.Jobs.Where(j => j.Kind == JobKind.Soup), j => Assert.Equal("linear", j.Mode));
    }

    [Fact]
    public void Create_SecondSoupMode_ItsSoupsNamedByTheMode()
    {
        ExperimentPlan plan = Plan(PlanFixtures.Small + "\nfake: {modes: 2}");
        Assert.Equal(Sorted("s1-soup-01", "s1-soup-02", "s1-soup-03", "s1-soup-other-01", "s1-soup-other-02", "s1-soup-other-03"),
            Ids(plan, j => j.Kind == JobKind.Soup));
        Assert.Equal("other", plan.Get("s1-soup-other-02").Mode);
        Assert.Equal([0.5, 0.5], plan.Get("s1-soup-other-02").Lambda!);
        Assert.Equal("s1-soup-other-02", plan.SoupId(1, 1, "other"));
        Assert.Equal("s1-soup-02", plan.SoupId(1, 1, "linear"));
        Assert.Equal(("soup", "soup-other"), (plan.SoupKind("linear"), plan.SoupKind("other")));
        Assert.NotNull(plan.Get("s1-soup-other-02-eval"));
    }

    [Fact]
    public void Create_TwoTrainingSeeds_EachSeedItsOwnJobs()
    {
        ExperimentPlan plan = Plan(PlanFixtures.Small + "\nseed: 5\nrepeats: 2");
        Assert.Equal(28, plan.Jobs.Count);
        foreach (int s in new[] { 5, 6 })
        {
            string[] ids = Ids(plan, j => j.Seed == s);
            Assert.Equal(Sorted([.. SmallPolicies.SelectMany(p => new[] { p, p + "-eval" }).Select(id => $"s{s}" + id[2..])]), ids);
            // A seed's jobs need only jobs of the same seed.
            Assert.All(plan.Jobs.Where(j => j.Seed == s).SelectMany(j => j.DependsOn), dep => Assert.Equal(s, plan.Get(dep).Seed));
        }
        Assert.Equal(plan.Jobs.Count, plan.Jobs.Select(j => j.Key).Distinct().Count());
    }

    [Theory]
    [InlineData("", 2 * (1 + 2 + 0 + 11))]                                              // default step 0.1: 11 soups, no MORL
    [InlineData(PlanFixtures.Small, 2 * (1 + 2 + 1 + 3))]
    [InlineData("repeats: 3\nfake: {modes: 2}\nsoups: {divisions: 4}\nmorl: {preferences: [0.25, 0.75]}", 3 * 2 * (1 + 2 + 2 + 2 * 5))]
    [InlineData("soups: {points: [0.3]}\nmorl: {preferences: [0.5]}", 2 * (1 + 2 + 1 + 4))] // (0.7, 0.3), both vertices and MORL's μ
    public void CountJobs_AsManyAsCreateMakes(string extra, int expected)
    {
        ExperimentConfig config = PlanFixtures.Load(_dir, FakeFamily.Yaml(extra));
        Assert.Equal(expected, ExperimentPlan.CountJobs(config));
        Assert.Equal(expected, ExperimentPlan.Create(config, _dir.File("run")).Jobs.Count);
    }

    [Fact]
    public void Create_SameConfigurationWrittenDifferently_SameKeysInAnyFolder()
    {
        ExperimentPlan a = Plan();
        ExperimentPlan b = ExperimentPlan.Create(PlanFixtures.Load(_dir,
            "experts:\n  steps: 10\n  rewards: [a, b]\ntask: fake\nname: fake-run\nmorl: {preferences: [[0.5, 0.5]]}\nsoups: {step: 5e-1}\npretrain: {steps: 10, reward: a}\n"),
            _dir.File("elsewhere"));
        Assert.Equal(a.Jobs.Select(j => (j.Id, j.Key)).Order(), b.Jobs.Select(j => (j.Id, j.Key)).Order());
        Assert.Equal(a.Jobs.Count, a.Jobs.Select(j => j.Key).Distinct().Count());
    }

    [Theory]
    [InlineData("evaluation: {episodes: 3}")]
    [InlineData("evaluation: {seeds: [7]}")]
    public void Create_EvaluationChanged_OnlyEvaluationsRedone(string evaluation)
    {
        ExperimentPlan before = Plan(), after = Plan(PlanFixtures.Small + "\n" + evaluation);
        Assert.Equal(Ids(after, j => j.Kind == JobKind.Eval), Changed(before, after));
    }

    [Theory]
    // Soup 01 is λ = (1, 0) in both grids; soups 02 and 03 are (0.5, 0.5) and (0, 1) before, (0.75, 0.25) and (0.5, 0.5) after.
    [InlineData("soups: {step: 0.25}\nmorl: {preferences: [0.5]}", "s1-soup-02 s1-soup-02-eval s1-soup-03 s1-soup-03-eval")]
    [InlineData("soups: {step: 0.5}\nmorl: {preferences: [0.25]}", "s1-morl-1 s1-morl-1-eval")]
    public void Create_SoupsOrMorlChanged_TheExpertsKept(string extra, string changed) =>
        Assert.Equal(Sorted(changed.Split(' ')), Changed(Plan(), Plan(extra)));

    [Theory]
    // Expert 2 retrains; the soups mix it, MORL trains on both rewards, and every evaluation scores every reward.
    [InlineData("{reward: a, steps: 10}", "{rewards: [a, {name: b, terms: {y: 2}}], steps: 10}", "s1-init s1-expert-1")]
    [InlineData("{reward: a, steps: 10}", "{rewards: [a, b], steps: 20}", "s1-init s1-init-eval")]
    // Everything starts from the init.
    [InlineData("{reward: a, steps: 11}", "{rewards: [a, b], steps: 10}", "")]
    [InlineData("{reward: b, steps: 10}", "{rewards: [a, b], steps: 10}", "")]
    public void Create_TrainingChanged_AllButTheUnaffectedRedone(string pretrain, string experts, string kept)
    {
        ExperimentPlan before = PlanWith(), after = PlanWith(pretrain, experts);
        string[] keptIds = kept.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Ids(after, j => !keptIds.Contains(j.Id)), Changed(before, after));
    }

    [Fact]
    public void Create_FamilySettingsChanged_EveryJobRedone()
    {
        ExperimentPlan before = Plan(), after = Plan(PlanFixtures.Small + "\nfake: {size: 2}");
        Assert.Equal(Ids(after, _ => true), Changed(before, after));
    }

    [Fact]
    public void Create_NameAndParallelismChanged_NoJobRedone()
    {
        ExperimentPlan before = Plan();
        ExperimentPlan after = ExperimentPlan.Create(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small + "\nparallelism: 3", name: "renamed")), _dir.File("run"));
        Assert.Empty(Changed(before, after));
        Assert.Equal(before.Jobs.Count, after.Jobs.Count);
    }

    [Fact]
    public void IsDone_MarkedJob_DoneOthersNot()
    {
        ExperimentPlan plan = Plan();
        Job init = plan.Get("s1-init");
        Assert.False(plan.IsDone(init));
        PlanFixtures.Finish(plan, init);
        Assert.True(plan.IsDone(init));
        Assert.False(plan.IsDone(plan.Get("s1-init-eval")));
        Assert.Contains(init.Key, File.ReadAllText(Path.Combine(plan.JobDir(init), "job.json")));
    }

    [Fact]
    public void IsDone_MarkerOfOtherInputs_NotDone()
    {
        ExperimentPlan before = Plan();
        foreach (Job job in before.Jobs) PlanFixtures.Finish(before, job);
        // The same folder planned with more evaluation episodes: the policies stand, their evaluations are redone.
        ExperimentPlan after = Plan(PlanFixtures.Small + "\nevaluation: {episodes: 3}");
        Assert.Equal(Ids(after, j => j.Kind != JobKind.Eval), Ids(after, after.IsDone));
    }

    [Theory]
    [InlineData("{\"id\": \"s1-init\", \"key\": \"")]          // cut short while written by hand or a full disk
    [InlineData("")]
    [InlineData("{\"id\": \"s1-init\"}")]                       // no key
    [InlineData("{\"id\": \"s1-init\", \"key\": \"0123456789abcdef\"}")]
    public void IsDone_DamagedOrForeignMarker_NotDone(string marker) => Assert.False(IsDoneWithMarker(marker));

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"key\": 5}")]
    public void IsDone_MarkerOfAnotherShape_NotDone(string marker) => Assert.False(IsDoneWithMarker(marker));

    [Fact]
    public void Get_UnknownId_ErrorNamesTheIdAndTheRun()
    {
        ExperimentPlan plan = Plan();
        var e = Assert.Throws<SoupInputException>(() => plan.Get("s1-expert-3"));
        Assert.Contains("'s1-expert-3'", e.Message);
        Assert.Contains(plan.RunDir, e.Message);
        Assert.Throws<SoupInputException>(() => plan.Get("s2-init"));
    }

    [Fact]
    public void JobDir_IsTheJobsFolderUnderTheRun()
    {
        ExperimentPlan plan = Plan();
        Assert.Equal(Path.Combine(_dir.File("run"), "jobs", "s1-soup-02"), plan.JobDir(plan.Get("s1-soup-02")));
    }
}
