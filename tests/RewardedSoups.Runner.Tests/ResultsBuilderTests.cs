using System.Text.Json;
using RewardedSoups.Runner;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// Results of a finished run from hand-made evaluations: means and Student-t intervals pooled over training
/// seeds, paired gains, the two fronts with their hypervolumes and expected utilities, LMC gaps and costs,
/// every expected number worked out by hand below.
/// </summary>
public sealed class ResultsBuilderTests : IDisposable
{
    /// <summary>
    /// Training seeds 5 and 6, 2 episodes each (one evaluation seed), budgets 100 (pretrain) and 30 (per
    /// training), soups λ = (1, 0), (0.5, 0.5), (0, 1), MORL μ = (0.5, 0.5), expected utility over the
    /// preferences (1, 0), (0.5, 0.5), (0, 1).
    /// </summary>
    private const string Yaml = "name: results\ntask: fake\nseed: 5\nrepeats: 2\npretrain: {reward: a, steps: 100}\nexperts: {rewards: [a, b], steps: 30}\n" +
                                "soups: {step: 0.5}\nmorl: {preferences: [0.5]}\nevaluation: {episodes: 2, eu_divisions: 2}\n";

    /// <summary>t₀.₉₇₅ with 3 degrees of freedom, from a Student-t table: the 95% interval of 4 samples.</summary>
    private const double T975Df3 = 3.182446305284263;

    /// <summary>
    /// The mean rewards (a, b) each policy is given, the same for both training seeds. Init (1, 2) is the
    /// reference point; the soups (10, 3), (7, 7), (2, 8) form a front; the experts are the vertex soups;
    /// MORL (5, 2.5) is dominated by expert a (10, 3).
    /// </summary>
    private static readonly Dictionary<string, double[]> Means = new()
    {
        ["init"] = [1, 2],
        ["expert-1"] = [10, 3],
        ["expert-2"] = [2, 8],
        ["soup-01"] = [10, 3],
        ["soup-02"] = [7, 7],
        ["soup-03"] = [2, 8],
        ["morl-1"] = [5, 2.5],
        ["soup-other-01"] = [10, 3],
        ["soup-other-02"] = [3, 2.5],
        ["soup-other-03"] = [2, 8],
    };

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Every episode's return: the init's are its mean −1 and +1 in both seeds; every other policy's are
    /// mean −3, −1 in seed 5 and +1, +3 in seed 6 (seed means m − 2 and m + 2, pooled mean m).
    /// </summary>
    private static double[] Offsets(Job policy) => policy.Role == "init" ? [-1, 1] : policy.Seed == 5 ? [-3, -1] : [1, 3];

    /// <summary>A finished run of <see cref="Yaml"/> (and <paramref name="extra"/>) whose evaluations are written by hand.</summary>
    private ExperimentPlan FinishedRun(string extra = "")
    {
        ExperimentPlan plan = ExperimentRunner.Prepare(PlanFixtures.Load(_dir, Yaml + extra), _dir.File("run"));
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval))
        {
            Job policy = plan.Get(eval.Policy!);
            double[] mean = Means[policy.Id[(policy.Id.IndexOf('-') + 1)..]];
            WriteEval(plan, eval, mean.Select(m => Offsets(policy).Select(o => m + o).ToArray()).ToArray());
        }
        foreach (Job job in plan.Jobs) PlanFixtures.Finish(plan, job);
        return plan;
    }

    /// <summary>An evaluation's <c>eval.json</c> as a job writes it: returns [reward][episode] of rewards a and b.</summary>
    private static void WriteEval(ExperimentPlan plan, Job eval, double[][] returns)
    {
        Directory.CreateDirectory(plan.JobDir(eval));
        File.WriteAllText(Path.Combine(plan.JobDir(eval), JobRunner.EvalFileName), JsonSerializer.Serialize(new EvalFile(["a", "b"], returns, returns[0].Length)));
    }

    private ExperimentResults Build(string extra = "") => ResultsBuilder.Build(FinishedRun(extra), new FakeFamily { Batch = 16 });

    private static PolicyResult Policy(ExperimentResults results, string label) => Assert.Single(results.Policies, p => p.Label == label);

    private static void Near(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 9);
    }

    [Fact]
    public void Build_Policies_InitExpertsSoupsMorlInThatOrder()
    {
        ExperimentResults results = Build();
        Assert.Equal(["init", "a", "b", "soup (1, 0)", "soup (0.5, 0.5)", "soup (0, 1)", "morl (0.5, 0.5)"], results.Policies.Select(p => p.Label));
        Assert.Equal(["init", "expert", "expert", "soup", "soup", "soup", "morl"], results.Policies.Select(p => p.Kind));
        Assert.Equal([0.0, 1.0], Policy(results, "b").Lambda!);
        Assert.Equal([0.5, 0.5], Policy(results, "soup (0.5, 0.5)").Lambda!);
        Assert.Equal([0.5, 0.5], Policy(results, "morl (0.5, 0.5)").Mu!);
        Assert.Null(Policy(results, "morl (0.5, 0.5)").Lambda);
        Assert.Equal(["a", "b"], results.Rewards);
        Assert.Equal([5, 6], results.TrainingSeeds);
        Assert.Equal(2 * 1 * 2, results.EpisodesPerPolicy); // episodes × evaluation seeds × training seeds
        Assert.Equal(Path.Combine("jobs", "s5-soup-02", "policy"), Policy(results, "soup (0.5, 0.5)").Checkpoint);
    }

    [Fact]
    public void Build_Means_PooledOverTrainingSeedsWithStudentTIntervals()
    {
        ExperimentResults results = Build();
        // Soup (0.5, 0.5): reward a's 4 returns are 7 + (−3, −1, 1, 3): mean 7, s² = (9 + 1 + 1 + 9) / 3.
        PolicyResult soup = Policy(results, "soup (0.5, 0.5)");
        double half = T975Df3 * Math.Sqrt(20.0 / 3) / Math.Sqrt(4);
        Near([7, 7], soup.Mean);
        Near([7 - half, 7 - half], soup.Low);
        Near([7 + half, 7 + half], soup.High);
        // Seed 5's returns are 7 − 3 and 7 − 1, seed 6's 7 + 1 and 7 + 3.
        Assert.Equal(2, soup.PerSeedMean.Length);
        Near([5, 5], soup.PerSeedMean[0]);
        Near([9, 9], soup.PerSeedMean[1]);
        // The init: 1 + (−1, 1, −1, 1) and 2 + (−1, 1, −1, 1): s² = 4 / 3.
        PolicyResult init = Policy(results, "init");
        double initHalf = T975Df3 * Math.Sqrt(4.0 / 3) / 2;
        Near([1, 2], init.Mean);
        Near([1 - initHalf, 2 - initHalf], init.Low);
        Near([1 + initHalf, 2 + initHalf], init.High);
        Near([10, 3], Policy(results, "a").Mean);
        Near([5, 2.5], Policy(results, "morl (0.5, 0.5)").Mean);
    }

    [Fact]
    public void Build_Gain_PairedEpisodeByEpisodeWithTheInit()
    {
        ExperimentResults results = Build();
        Assert.Null(Policy(results, "init").Gain);
        // Soup (0.5, 0.5) − init, episode by episode: (7 − 1) + (−3, −1, 1, 3) − (−1, 1, −1, 1) = 6 + (−2, −2, 2, 2) for
        // reward a, 5 + the same for b: s² = 16 / 3.
        GainResult gain = Policy(results, "soup (0.5, 0.5)").Gain!;
        double half = T975Df3 * Math.Sqrt(16.0 / 3) / 2;
        Near([6, 5], gain.Mean);
        Near([6 - half, 5 - half], gain.Low);
        Near([6 + half, 5 + half], gain.High);
    }

    [Fact]
    public void Build_RsFront_SoupsHypervolumeAboveTheInit()
    {
        ExperimentResults results = Build();
        Assert.Equal([1.0, 2.0], results.ReferencePoint);
        FrontResult rs = results.RsFront;
        Assert.Equal(["soup (1, 0)", "soup (0.5, 0.5)", "soup (0, 1)"], rs.Front);
        // Above (1, 2) the soups are (9, 1), (6, 5), (1, 6): sweeping by the first reward, 9·1 + 6·(5 − 1) + 1·(6 − 5) = 34.
        Assert.Equal(34, rs.Hypervolume, 9);
        // Best utility at (1, 0): 10; at (0.5, 0.5): max(6.5, 7, 5) = 7; at (0, 1): 8.
        Assert.Equal((10 + 7 + 8) / 3.0, rs.ExpectedUtility, 9);
        Assert.Equal(2, rs.EuDivisions);
    }

    [Fact]
    public void Build_MorlFront_DominatedPolicyLeftOut()
    {
        ExperimentResults results = Build();
        FrontResult morl = results.MorlFront;
        // MORL (5, 2.5) is dominated by expert a (10, 3).
        Assert.Equal(["a", "b"], morl.Front);
        // Above (1, 2): (9, 1) and (1, 6); (4, 0.5) lies inside the first box: 9·1 + 1·(6 − 1) = 14.
        Assert.Equal(14, morl.Hypervolume, 9);
        // Best utility at (1, 0): 10; at (0.5, 0.5): max(6.5, 5, 3.75) = 6.5; at (0, 1): 8.
        Assert.Equal((10 + 6.5 + 8) / 3, morl.ExpectedUtility, 9);
    }

    [Fact]
    public void Build_Lmc_SoupMinusTheChordOfTheVertexSoups()
    {
        LmcResult lmc = Build().Lmc;
        // At λ = (0.5, 0.5) the chord is (10 + 2) / 2 = 6 and (3 + 8) / 2 = 5.5; the soup is (7, 7). The vertices' gaps are 0.
        Assert.Equal(["soup (1, 0)", "soup (0.5, 0.5)", "soup (0, 1)"], lmc.Gaps.Select(g => g.Label));
        Near([0, 0], lmc.Gaps[0].Gap);
        Near([1, 1.5], lmc.Gaps[1].Gap);
        Near([0, 0], lmc.Gaps[2].Gap);
        Near([0, 0], lmc.Min);
        Near([1, 1.5], lmc.Max);
        Near([1 / 3.0, 0.5], lmc.Mean);
    }

    [Fact]
    public void Build_Cost_InitPlusTrainingsInWholeBatches()
    {
        CostResult cost = Build().Cost;
        // Batches of 16: pretrain 100 → 112, each training 30 → 32. RS: init + 2 experts; MORL: init + 2 experts + 1 MORL policy.
        Assert.Equal(("steps", 112L, 32L), (cost.Unit, cost.PretrainSteps, cost.StepsPerTraining));
        Assert.Equal((2, 3), (cost.RsTrainings, cost.MorlTrainings));
        Assert.Equal((112 + 2 * 32L, 112 + 3 * 32L), (cost.RsSteps, cost.MorlSteps));
    }

    [Fact]
    public void Build_SecondSoupMode_ItsOwnFrontOutsideTheRsFront()
    {
        ExperimentResults results = Build("fake: {modes: 2}\n");
        Assert.Equal(["soup[other] (1, 0)", "soup[other] (0.5, 0.5)", "soup[other] (0, 1)"], results.Policies.Where(p => p.Kind == "soup-other").Select(p => p.Label));
        Assert.Equal(34, results.RsFront.Hypervolume, 9);
        Assert.Equal(["linear", "other"], results.SoupModes.Select(m => m.Mode));
        SoupModeResult other = results.SoupModes[1];
        Assert.Equal("soup-other", other.Kind);
        // (3, 2.5) is dominated by (10, 3); above (1, 2): 9·1 + 1·(6 − 1) = 14; LMC at λ = (0.5, 0.5): (3, 2.5) − (6, 5.5).
        Assert.Equal(["soup[other] (1, 0)", "soup[other] (0, 1)"], other.Front.Front);
        Assert.Equal(14, other.Front.Hypervolume, 9);
        Near([-3, -3], other.Lmc.Gaps[1].Gap);
        Assert.Equal(results.RsFront.Front, results.SoupModes[0].Front.Front);
    }

    [Fact]
    public void Write_ResultsJsonAndCsv_HoldTheNumbers()
    {
        ExperimentPlan plan = FinishedRun();
        ExperimentResults results = ResultsBuilder.Build(plan, new FakeFamily());
        ResultsBuilder.Write(plan, results);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(plan.RunDir, ResultsBuilder.ResultsFile)));
        Assert.Equal(34, json.RootElement.GetProperty("rs_front").GetProperty("hypervolume").GetDouble(), 9);
        string[] csv = File.ReadAllLines(Path.Combine(plan.RunDir, "results_policies.csv"));
        Assert.Equal("kind,label,weights,a_mean,a_low,a_high,b_mean,b_low,b_high", csv[0]);
        Assert.Equal(1 + 7, csv.Length);
        Assert.StartsWith("soup,\"soup (0.5, 0.5)\",\"(0.5, 0.5)\",7,", csv[5]);
        Assert.StartsWith("init,init,,1,", csv[1]);
    }

    [Fact]
    public void Load_OneReturnPerPolicy_RefusedBeforeAnyTraining_TwoAccepted()
    {
        // One episode × one evaluation seed × one repeat: a single return per policy has no interval, and
        // results.json (which refuses NaN) could only fail after every training; refused at load instead.
        var e = Assert.Throws<SoupInputException>(() => PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small + "\nevaluation: {episodes: 1}")));
        Assert.Contains("'evaluation.episodes': 1 episode × 1 evaluation seed × 1 repeat gives each policy a single return", e.Message);
        // Two returns in all, whichever way: accepted, and written with finite intervals.
        PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small + "\nevaluation: {episodes: 1, seeds: [1, 2]}"));
        ExperimentConfig config = PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small + "\nevaluation: {episodes: 1}\nrepeats: 2"));
        ExperimentPlan plan = ExperimentRunner.Prepare(config, _dir.File("run"));
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval)) WriteEval(plan, eval, [[1], [2 + eval.Seed]]);
        ResultsBuilder.Write(plan, ResultsBuilder.Build(plan, new FakeFamily()));
        Assert.True(File.Exists(Path.Combine(plan.RunDir, ResultsBuilder.ResultsFile)));
    }
}
