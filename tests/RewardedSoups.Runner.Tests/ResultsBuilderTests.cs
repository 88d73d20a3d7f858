using System.Text.Json;
using System.Text.Json.Nodes;
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
        ["ensemble-01"] = [8, 7.5],
    };

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Every episode's return: the init's are its mean −1 and +1 in both seeds; every other policy's are
    /// mean −3, −1 in seed 5 and +1, +3 in seed 6 (seed means m − 2 and m + 2, pooled mean m).
    /// </summary>
    private static double[] Offsets(Job policy) => policy.Role == "init" ? [-1, 1] : policy.Seed == 5 ? [-3, -1] : [1, 3];

    /// <summary>A finished run of <see cref="Yaml"/> (and <paramref name="extra"/>) whose evaluations are written by hand.</summary>
    private ExperimentPlan FinishedRun(string extra = "", string yaml = Yaml)
    {
        ExperimentPlan plan = ExperimentRunner.Prepare(PlanFixtures.Load(_dir, yaml + extra), _dir.File("run"));
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
        Assert.Equal(2 * 2, results.EpisodesPerPolicy); // the returns pooled: 2 per evaluation × 2 training seeds
        Assert.Equal("episodes", results.EvaluationUnit);
        Assert.Equal(Path.Combine("jobs", "s5-soup-02", "policy"), Policy(results, "soup (0.5, 0.5)").Checkpoint);
        Assert.Null(results.Ensemble);   // no ensembles: asked for
    }

    [Fact]
    public void Build_Ensemble_ItsFrontAgainstRs_PairedWithTheSoupOfTheSameLambda_AndItsInferenceCost()
    {
        ExperimentPlan plan = FinishedRun("ensembles: true\n");
        // Every single policy: 1 pass and 10 ms per episode; the ensemble: 2 passes and 30 ms.
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval))
        {
            bool ensemble = plan.Get(eval.Policy!).Kind == JobKind.Ensemble;
            EvalFile file = JobRunner.ReadEval(plan, eval);
            File.WriteAllText(Path.Combine(plan.JobDir(eval), JobRunner.EvalFileName),
                JsonSerializer.Serialize(file with { Inference = InferenceCost.Of(ensemble ? 4 : 2, ensemble ? 0.06 : 0.02, 2) }));
            Assert.DoesNotContain("econds", File.ReadAllText(Path.Combine(plan.JobDir(eval), JobRunner.EvalFileName)));   // the count only
            File.WriteAllText(Path.Combine(plan.JobDir(eval), JobRunner.TimingFileName), JsonSerializer.Serialize(new EvalTiming(ensemble ? 0.06 : 0.02, 2)));
        }
        ExperimentResults results = ResultsBuilder.Build(plan, new FakeFamily { Batch = 16 });
        PolicyResult e = Policy(results, "ensemble (0.5, 0.5)");
        Assert.Equal("ensemble", e.Kind);
        Assert.Equal([0.5, 0.5], e.Lambda!);
        Near([8, 7.5], e.Mean);
        Assert.Equal(Path.Combine("jobs", "s5-ensemble-01", JobRunner.EnsembleFileName), e.Checkpoint);
        EnsembleResult r = results.Ensemble!;
        // Above the init (1, 2): RS's soups (9, 1), (6, 5), (1, 6) cover 9 + 6·4 + 1·1 = 34; the ensemble's (9, 1), (7, 5.5),
        // (1, 6) cover 9 + 7·4.5 + 1·0.5 = 41.
        Assert.Equal(34, results.RsFront.Hypervolume, 9);
        Assert.Equal(41, r.Front.Hypervolume, 9);
        Assert.Equal(41.0 / 34, r.HypervolumeVsRs!.Value, 9);
        Assert.Equal(["a", "b", "ensemble (0.5, 0.5)"], r.Front.Front.Order(StringComparer.Ordinal));
        // Expected utility over μ = (1, 0), (0.5, 0.5), (0, 1): max(10), max(6.5, 7.75, 5), max(8) → 8.5833…; RS 8.3333….
        Assert.Equal((10 + 7.75 + 8) / 3, r.Front.ExpectedUtility, 9);
        Assert.Equal((10 + 7.75 + 8) / 3 - (10 + 7 + 8) / 3.0, r.VsRs.ExpectedUtilityDifference.Mean, 9);
        // Paired with soup (0.5, 0.5), episode by episode: +1 and +0.5 on every episode, so beyond noise on both rewards.
        Assert.Equal([1, 1], r.BeatsSoup);
        Assert.Equal([0, 0], r.LosesToSoup);
        Assert.Equal(results.Cost.RsSteps, r.TrainingSteps);
        Assert.Equal(2, r.Inference!.ForwardPassRatio, 12);
        Assert.Equal(1, Policy(results, "soup (0.5, 0.5)").Inference!.ForwardPassesPerSample, 12);
        // Times are a measurement: in timings.json, never in results.json (which a resumed run writes to the same bytes).
        Assert.Equal(3, results.Timings!.EnsembleTimeRatio!.Value, 9);
        Assert.Equal(0.03, results.Timings.EnsembleSecondsPerSample!.Value, 12);
        Assert.Equal(0.01, results.Timings.SecondsPerSample["soup (0.5, 0.5)"], 12);
        Assert.DoesNotContain("seconds", System.Text.Json.JsonSerializer.Serialize(results));
        // Preferences: at μ = (0.5, 0.5) the ensemble's test utility (second returns: m + 1) is ½·9 + ½·8.5 = 8.75, the soup's 8.
        PreferenceResult half = results.Preferences!.Items[1];
        Assert.Equal(8.75, half.TestEnsemble!.Mean, 9);
        Assert.Equal(0.75, half.EnsembleMinusMu!.Mean, 9);
        Assert.Equal([0.5, 0.5], half.EnsembleStar!);
    }

    [Fact]
    public void Build_EpisodesPerPolicy_CountsTheReturnsNotTheConfiguredEpisodes()
    {
        // An image evaluation returns one value per prompt and image, so more returns than configured "episodes".
        ExperimentPlan plan = FinishedRun();
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval))
            WriteEval(plan, eval, [[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]);
        ExperimentResults results = ResultsBuilder.Build(plan, new FakeFamily { Batch = 16 });
        Assert.Equal(6 * 2, results.EpisodesPerPolicy);
        Assert.Equal("episodes", results.EvaluationUnit);
        Assert.Contains("12 episodes per policy", Runner.Report.ExperimentReport.SummaryTable(results));
    }

    [Fact]
    public void Build_Preferences_ChooseOnValidationReportOnTest()
    {
        // Each evaluation's 2 returns split into validation (the first: mean m − 1 over both seeds) and test (the
        // second: mean m + 1). Candidates: experts a (10, 3), b (2, 8) and the soups (10, 3), (7, 7), (2, 8).
        PreferencesResult prefs = Build().Preferences!;
        Assert.Equal([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], prefs.Items.Select(i => i.Mu));

        // μ = (0.5, 0.5), an expected-utility point and MORL's preference: validation utilities a 5.5, b 4, soup 6.
        PreferenceResult half = prefs.Items[1];
        Assert.Equal(["eu", "morl"], half.Sources);
        Assert.Equal([0.5, 0.5], half.LambdaStar);
        Assert.Equal("soup (0.5, 0.5)", half.LambdaStarLabel);
        Assert.Equal(6, half.ValidationUtilityStar, 12);
        Assert.Equal(8, half.TestStar.Mean, 12);
        Assert.Equal(8, half.TestMu!.Mean, 12);
        // MORL (5, 2.5) on test: (6 + 3.5) / 2; every test episode is 3.25 below the soup's, so the interval is that point.
        Assert.Equal(4.75, half.TestMorl!.Mean, 12);
        Assert.Equal(3.25, half.StarMinusMorl!.Mean, 12);
        Assert.Equal(3.25, half.StarMinusMorl.Low!.Value, 12);
        Assert.Equal(0, half.StarMinusMu!.Mean, 12);

        // μ = (1, 0): expert a and the soup (1, 0) tie (same λ, same returns); the first candidate, the expert, is kept.
        // MORL's policy for a one-hot μ is that expert.
        PreferenceResult first = prefs.Items[0];
        Assert.Equal(["eu"], first.Sources);
        Assert.Equal("a", first.LambdaStarLabel);
        Assert.Equal(11, first.TestStar.Mean, 12);
        Assert.Equal(11, first.TestMorl!.Mean, 12);
        Assert.Equal(0, prefs.StarBeatsMu);
        Assert.Equal(0, prefs.StarLosesToMu);
        Assert.Equal(0, prefs.MeanGainOverMu, 12);

        // The CLI summary gives MORL's μ a line; the report a table row per μ and the figure.
        ExperimentResults results = Build();
        string summary = Runner.Report.ExperimentReport.SummaryTable(results);
        Assert.Contains("μ (0.5, 0.5): λ* (0.5, 0.5) 8 [", summary);
        Assert.Contains("; MORL 4.75 [", summary);
        Assert.Contains("; λ* − MORL 3.25 [3.25, 3.25]", summary); // the same difference in every test episode
        Assert.Contains("over the 3 μ of the expected-utility grid: λ*(μ) above λ = μ beyond noise at 0, below at 0", summary);
        Runner.Report.ReportFiles files = Runner.Report.ExperimentReport.Write(results, [], _dir.File("report"));
        Assert.Contains(Path.Combine(_dir.File("report"), "figures", "preferences.png"), files.Figures);
        string html = File.ReadAllText(files.Html);
        Assert.Contains("<h3>From a preference μ to a soup: λ*(μ)</h3>", html);
        Assert.Contains("<td>(0.5, 0.5)</td><td>eu, morl</td><td>(0.5, 0.5)</td>", html);
    }

    [Fact]
    public void Build_Preferences_ChoiceDiffersFromMu_WhenTheValidationSaysSo()
    {
        // Soup (0.5, 0.5) made poor: at μ = (0.5, 0.5) expert a (10, 3) is then the best soup on validation.
        ExperimentPlan plan = FinishedRun();
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval && plan.Get(j.Policy!).Id.EndsWith("soup-02", StringComparison.Ordinal)))
            WriteEval(plan, eval, [[0, 0], [0, 0]]);
        PreferenceResult half = ResultsBuilder.Build(plan, new FakeFamily { Batch = 16 }).Preferences!.Items[1];
        Assert.Equal("a", half.LambdaStarLabel);
        Assert.Equal([1.0, 0.0], half.LambdaStar);
        // Test: a's (11, 4) → 7.5 against the soup's 0; both seeds' test episodes the same.
        Assert.Equal(7.5, half.TestStar.Mean, 12);
        Assert.Equal(0, half.TestMu!.Mean, 12);
        Assert.Equal(7.5, half.StarMinusMu!.Mean, 12);
    }

    [Fact]
    public void Build_Preferences_NullWhenAnEvaluationHasOneReturn()
    {
        ExperimentPlan plan = FinishedRun();
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval))
            WriteEval(plan, eval, [[1], [2]]);
        Assert.Null(ResultsBuilder.Build(plan, new FakeFamily { Batch = 16 }).Preferences);
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

    /// <summary>t₀.₉₇₅ with 1 degree of freedom, from a Student-t table: the 95% interval of 2 samples.</summary>
    private const double T975Df1 = 12.706204736174707;

    [Fact]
    public void Build_FrontsPerTrainingSeed_HypervolumeAndUtilityWithIntervalsOverSeeds_RsVsMorlPaired()
    {
        ExperimentResults results = Build();
        Assert.Equal(2, results.SchemaVersion);
        // Seed 5's means are m − 2: soups (8, 1), (5, 5), (0, 6); above the pooled init (1, 2) only (5, 5) counts: 4·3 = 12.
        // Seed 6's are m + 2: soups (12, 5), (9, 9), (4, 10): (11, 3), (8, 7), (3, 8) above it: 11·3 + 8·4 + 3·1 = 68.
        SeedSpread rs = results.RsFront.HypervolumeSeeds!;
        Near([12, 68], rs.PerSeed);
        Assert.Equal(40, rs.Mean, 9);
        // s = 56/√2, half-width t·s/√2 = t·28.
        Assert.Equal(40 - T975Df1 * 28, rs.Low!.Value, 6);
        Assert.Equal(40 + T975Df1 * 28, rs.High!.Value, 6);
        // MORL: seed 5's experts (8, 1), (0, 6) and MORL (3, 0.5) each fall short of (1, 2) in one reward: 0. Seed 6: (11, 3), (3, 8) and (6, 2.5): 33 + 15 = 48.
        Near([0, 48], results.MorlFront.HypervolumeSeeds!.PerSeed);
        SeedComparison c = results.RsVsMorl!;
        // Seed against seed: 12 − 0 and 68 − 48; s = 8/√2, half-width t·4.
        Near([12, 20], c.HypervolumeDifference.PerSeed);
        Assert.Equal(16 - T975Df1 * 4, c.HypervolumeDifference.Low!.Value, 6);
        Assert.False(c.HypervolumeDifference.Excludes(0));
        Assert.Null(c.HypervolumeRatio); // seed 5's MORL hypervolume is 0
        // Expected utility (preferences (1, 0), (0.5, 0.5), (0, 1)): RS (8 + 5 + 6)/3 and (12 + 9 + 10)/3, MORL (8 + 4.5 + 6)/3 and
        // (12 + 8.5 + 10)/3: RS − MORL is 1/6 in both seeds, an interval of width 0 that excludes 0.
        Near([19 / 3.0, 31 / 3.0], results.RsFront.ExpectedUtilitySeeds!.PerSeed);
        Near([1 / 6.0, 1 / 6.0], c.ExpectedUtilityDifference.PerSeed);
        Assert.Equal(1 / 6.0, c.ExpectedUtilityDifference.Low!.Value, 9);
        Assert.True(c.ExpectedUtilityDifference.Excludes(0));
        string verdict = Runner.Report.ExperimentReport.SummaryTable(results);
        Assert.Contains("Over 2 training seeds, seed against seed (95% Student-t): RS − MORL hypervolume 16 [", verdict);
        Assert.Contains("within the spread of seeds (a seed's MORL hypervolume is 0: no ratio); expected utility RS − MORL 0.1667 [0.1667, 0.1667], beyond the spread of seeds.", verdict);
    }

    [Fact]
    public void Build_OneTrainingSeed_NoIntervalRatherThanADegenerateOne()
    {
        ExperimentResults results = ResultsBuilder.Build(FinishedRun(yaml: Yaml.Replace("repeats: 2\n", "")), new FakeFamily { Batch = 16 });
        SeedSpread rs = results.RsFront.HypervolumeSeeds!;
        Assert.Single(rs.PerSeed);
        Assert.Equal(results.RsFront.Hypervolume, rs.Mean, 9); // one seed: its front is the front
        Assert.Null(rs.Low);
        Assert.Null(rs.High);
        Assert.Null(rs.Excludes(0));
        string summary = Runner.Report.ExperimentReport.SummaryTable(results);
        Assert.Contains("One training seed: no interval between seeds", summary);
        Assert.Contains("(one seed: no interval)", summary);
        Assert.DoesNotContain("NaN", summary);
    }

    [Fact]
    public void Load_SchemaOneResults_StillLoad_WithoutTheSeedStatistics()
    {
        JsonNode json = JsonSerializer.SerializeToNode(Build())!;
        json["schema_version"] = 1;
        json.AsObject().Remove("rs_vs_morl");
        foreach (string front in new[] { "rs_front", "morl_front" })
        {
            json[front]!.AsObject().Remove("hypervolume_seeds");
            json[front]!.AsObject().Remove("expected_utility_seeds");
        }
        ExperimentResults old = json.Deserialize<ExperimentResults>()!;
        Assert.Null(old.RsVsMorl);
        Assert.Null(old.RsFront.HypervolumeSeeds);
        Assert.Contains("carry no interval", Runner.Report.ExperimentReport.SummaryTable(old));
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
    public void Build_Measures_PooledOverSeedsWithIntervals_InJsonAndCsv_AbsentWhereASeedLacksThem()
    {
        ExperimentPlan plan = FinishedRun();
        // Every evaluation also measures "seen" (0 or 1 per episode): seed 5 sees (0, 1), seed 6 (1, 1); and "odd" in seed 5 only.
        foreach (Job eval in plan.Jobs.Where(j => j.Kind == JobKind.Eval))
        {
            string path = Path.Combine(plan.JobDir(eval), JobRunner.EvalFileName);
            EvalFile file = JsonSerializer.Deserialize<EvalFile>(File.ReadAllText(path))!;
            Assert.Null(file.Measures); // written without measures, as families without any (and older runs) write them
            bool five = plan.Get(eval.Policy!).Seed == 5;
            var measures = new Dictionary<string, double[]> { ["seen"] = five ? [0, 1] : [1, 1] };
            if (five) measures["odd"] = [5, 5];
            File.WriteAllText(path, JsonSerializer.Serialize(file with { Measures = measures }));
        }
        ExperimentResults results = ResultsBuilder.Build(plan, new FakeFamily());
        // Pooled (0, 1, 1, 1): mean 0.75, s² = (0.5625 + 3 · 0.0625) / 3 = 0.25.
        double half = T975Df3 * Math.Sqrt(0.25) / 2;
        foreach (PolicyResult p in results.Policies)
        {
            MeasureResult seen = Assert.Single(p.Measures!).Value;
            Assert.Equal(0.75, seen.Mean, 12);
            Assert.Equal(0.75 - half, seen.Low!.Value, 12);
            Assert.Equal(0.75 + half, seen.High!.Value, 12);
        }
        ResultsBuilder.Write(plan, results);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(plan.RunDir, ResultsBuilder.ResultsFile)));
        Assert.Equal(0.75, json.RootElement.GetProperty("policies")[0].GetProperty("measures").GetProperty("seen").GetProperty("mean").GetDouble(), 12);
        string[] csv = File.ReadAllLines(Path.Combine(plan.RunDir, "results_policies.csv"));
        Assert.Equal("kind,label,weights,a_mean,a_low,a_high,b_mean,b_low,b_high,measure_seen_mean,measure_seen_low,measure_seen_high", csv[0]);
        double[] last = csv[1].Split(',')[^3..].Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Near([0.75, 0.75 - half, 0.75 + half], last);
    }

    [Fact]
    public void Build_NoMeasures_NoneReported() => Assert.All(Build().Policies, p => Assert.Null(p.Measures));

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
