using RewardedSoups.Numerics;
using RewardedSoups.Runner;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>One job run in this process through the fake family: what it asks the family, what it writes, and when it refuses.</summary>
public sealed class JobRunnerTests : IDisposable
{
    /// <summary>Distinct budgets and rewards per role, two evaluation seeds, training seed 3, MORL μ = (0.75, 0.25) (a bare number is expert 2's weight).</summary>
    private const string Yaml = "name: jobs\ntask: fake\nseed: 3\npretrain: {reward: b, steps: 7}\nexperts: {rewards: [a, b], steps: 11}\n" +
                                "soups: {step: 0.5}\nmorl: {preferences: [0.25]}\nevaluation: {episodes: 2, seeds: [4, 5]}\n";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ExperimentPlan Plan() => ExperimentPlan.Create(PlanFixtures.Load(_dir, Yaml), _dir.File("run"));

    private static void Run(ExperimentPlan plan, FakeFamily family, params string[] ids)
    {
        foreach (string id in ids) JobRunner.Run(plan, plan.Get(id), new TaskCatalogue([family]));
    }

    private static T Spec<T>(FakeFamily family) => Assert.Single(family.Specs.OfType<T>());

    [Fact]
    public void Run_DependencyNotDone_RefusedNamingIt()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        var e = Assert.Throws<SoupInputException>(() => Run(plan, family, "s3-expert-1"));
        Assert.Contains("job 's3-expert-1' needs job 's3-init', which has not finished", e.Message);
        Assert.Empty(family.Specs);
        Assert.False(plan.IsDone(plan.Get("s3-expert-1")));
    }

    [Fact]
    public void Run_AJobThatStartedBefore_KeepsTheThreadsItStartedWith()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        Job init = plan.Get("s3-init");
        var given = new List<int>();
        JobRunner.Run(plan, init, new TaskCatalogue([family]), threads: 3, useThreads: given.Add);
        Assert.Equal("3", File.ReadAllText(Path.Combine(plan.JobDir(init), JobRunner.ThreadsFile)));
        // Interrupted (no marker) and run again, asked for another count: it resumes with the count it started with.
        File.Delete(Path.Combine(plan.JobDir(init), Jobs.JobFolder.MarkerFile));
        var log = new List<string>();
        JobRunner.Run(plan, init, new TaskCatalogue([family]), log.Add, threads: 1, useThreads: given.Add);
        Assert.Equal([3, 3], given);
        Assert.Contains("s3-init: 3 compute threads, as when it started (asked 1)", log);
        // A damaged record is not trusted: the job starts with the count asked, and records it.
        File.Delete(Path.Combine(plan.JobDir(init), Jobs.JobFolder.MarkerFile));
        File.WriteAllText(Path.Combine(plan.JobDir(init), JobRunner.ThreadsFile), "-7");
        JobRunner.Run(plan, init, new TaskCatalogue([family]), threads: 2, useThreads: given.Add);
        Assert.Equal([3, 3, 2], given);
    }

    [Fact]
    public void StartThreads_DependOnThePlanOnly_InitsShareTheSlots()
    {
        ExperimentPlan plan = Plan();
        Assert.Equal(4, plan.StartThreads(plan.Get("s3-init"), 4));
        Assert.All(plan.Jobs.Where(j => j.Id != "s3-init"), j => Assert.Equal(1, plan.StartThreads(j, 4)));
        ExperimentPlan two = ExperimentPlan.Create(PlanFixtures.Load(_dir, Yaml + "repeats: 2\n"), _dir.File("run2"));
        Assert.Equal([2, 2], two.Jobs.Where(j => j.Role == "init" && j.Kind == JobKind.Train).Select(j => two.StartThreads(j, 4)));
        Assert.Equal(1, two.StartThreads(two.Get("s3-init"), 1));
    }

    [Fact]
    public void Run_Init_TrainsOnThePretrainRewardAndBudget_ThenMarksDone()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        Run(plan, family, "s3-init");
        TrainJobSpec spec = Spec<TrainJobSpec>(family);
        Assert.Equal((TrainRole.Init, 7L, 3, null), (spec.Role, spec.Budget, spec.Seed, spec.InitDir));
        Assert.Equal("b", spec.Reward!.Name);
        Assert.Equal(new Dictionary<string, double> { ["y"] = 1 }, spec.Reward.Weights);
        Assert.Equal(plan.JobDir(plan.Get("s3-init")), spec.Dir);
        Assert.True(plan.IsDone(plan.Get("s3-init")));
    }

    [Fact]
    public void Run_Experts_EachOnItsOwnRewardFromTheInit()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        Run(plan, family, "s3-init", "s3-expert-1", "s3-expert-2");
        TrainJobSpec[] experts = family.Specs.OfType<TrainJobSpec>().Where(s => s.Role == TrainRole.Expert).ToArray();
        Assert.Equal(["a", "b"], experts.Select(s => s.Reward!.Name));
        Assert.All(experts, s => Assert.Equal((11L, 3, plan.JobDir(plan.Get("s3-init"))), (s.Budget, s.Seed, s.InitDir)));
        Assert.Equal(plan.JobDir(plan.Get("s3-expert-2")), experts[1].Dir);
    }

    [Fact]
    public void Run_Morl_OnTheRewardsWeightedByItsPreference()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        Run(plan, family, "s3-init", "s3-morl-1");
        TrainJobSpec morl = family.Specs.OfType<TrainJobSpec>().Single(s => s.Role == TrainRole.Morl);
        // 0.75 · a + 0.25 · b, with a = x and b = y.
        Assert.Equal(new Dictionary<string, double> { ["x"] = 0.75, ["y"] = 0.25 }, morl.Reward!.Weights);
        Assert.Equal((11L, plan.JobDir(plan.Get("s3-init"))), (morl.Budget, morl.InitDir));
    }

    [Fact]
    public void Run_Soup_MixesTheExpertsFoldersWithItsWeights()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        Run(plan, family, "s3-init", "s3-expert-1", "s3-expert-2", "s3-soup-02");
        SoupJobSpec soup = Spec<SoupJobSpec>(family);
        Assert.Equal([plan.JobDir(plan.Get("s3-expert-1")), plan.JobDir(plan.Get("s3-expert-2"))], soup.ExpertDirs);
        Assert.Equal([0.5, 0.5], soup.Weights);
        Assert.Equal(("linear", plan.JobDir(plan.Get("s3-init")), plan.JobDir(plan.Get("s3-soup-02"))), (soup.Mode, soup.InitDir, soup.Dir));
        Assert.True(plan.IsDone(plan.Get("s3-soup-02")));
    }

    [Fact]
    public void Run_Eval_WritesTheFamilysReturnsOnTheExpertsRewards()
    {
        ExperimentPlan plan = Plan();
        double[][] returns = [[1, 2, 3, 4.5], [-1, -2, -3, -4.25]];
        var family = new FakeFamily { Returns = _ => returns };
        Run(plan, family, "s3-init", "s3-init-eval");
        EvalJobSpec spec = Spec<EvalJobSpec>(family);
        // The experts' rewards in their order (not the pretrain reward b alone), every episode of every evaluation seed.
        Assert.Equal(["a", "b"], spec.Rewards.Select(r => r.Name));
        Assert.Equal((2, plan.JobDir(plan.Get("s3-init"))), (spec.Episodes, spec.PolicyDir));
        Assert.Equal([4, 5], spec.Seeds);
        Job eval = plan.Get("s3-init-eval");
        EvalFile written = JobRunner.ReadEval(plan, eval);
        Assert.Equal(["a", "b"], written.Rewards);
        Assert.Equal(returns, written.Returns);
        Assert.Equal(4, written.Episodes);
        Assert.True(File.Exists(Path.Combine(plan.JobDir(eval), JobRunner.EvalFileName)));
        Assert.True(plan.IsDone(eval));
    }

    [Fact]
    public void Run_EvalReturnNotFinite_NothingWrittenNotDone()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily { Returns = _ => [[1, double.NaN], [0, 0]] };
        Run(plan, family, "s3-init");
        Job eval = plan.Get("s3-init-eval");
        var e = Assert.Throws<NumericalFailureException>(() => Run(plan, family, eval.Id));
        Assert.Contains("'s3-init-eval'", e.Message);
        Assert.Contains("Returns[0][1] (NaN)", e.Message);
        Assert.False(File.Exists(Path.Combine(plan.JobDir(eval), JobRunner.EvalFileName)));
        Assert.False(plan.IsDone(eval));
    }

    [Fact]
    public void Run_FamilyFails_JobNotMarkedDone()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        // The init marked finished without its policy: its evaluation fails in the family.
        PlanFixtures.Finish(plan, plan.Get("s3-init"));
        Assert.Throws<SoupInputException>(() => Run(plan, family, "s3-init-eval"));
        Assert.False(plan.IsDone(plan.Get("s3-init-eval")));
    }

    [Fact]
    public void Run_JobFolderHeldByAnotherRun_RefusedBeforeAnyWork()
    {
        ExperimentPlan plan = Plan();
        var family = new FakeFamily();
        using (FolderLock.Acquire(plan.JobDir(plan.Get("s3-init")), "job 's3-init'"))
            Assert.Throws<FolderInUseException>(() => Run(plan, family, "s3-init"));
        Assert.Empty(family.Specs);
        Assert.False(plan.IsDone(plan.Get("s3-init")));
        Run(plan, family, "s3-init");
        Assert.True(plan.IsDone(plan.Get("s3-init")));
    }

    [Fact]
    public void Load_NamedAndInlineRewards_ResolvedToTheirTermWeights()
    {
        ExperimentConfig config = PlanFixtures.Load(_dir, "name: x\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: [a, {name: mix, terms: {x: 2, y: -0.5}}], steps: 10}\n");
        Assert.Equal([1f, 0f], config.Experts[0].Resolve(["x", "y"]));
        Assert.Equal([2f, -0.5f], config.Experts[1].Resolve(["x", "y"]));
    }
}
