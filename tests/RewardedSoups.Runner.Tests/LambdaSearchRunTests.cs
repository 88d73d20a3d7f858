using System.Text.Json;
using RewardedSoups.Runner;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// <c>lambda_search:</c> end to end on the fake family: its configuration, its jobs (a round's λ computed when it runs, from
/// the evaluations it depends on), and what results.json reports — on returns whose best soup is known, off the grid.
/// </summary>
public sealed class LambdaSearchRunTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Grid λ₂ = 0, 0.25, …, 1, MORL μ = (0.5, 0.5), 2 training seeds, 4 episodes per evaluation (2 validate, 2 test).</summary>
    private const string Study = "repeats: 2\nsoups: {step: 0.25}\nmorl: {preferences: [0.5]}\nevaluation: {episodes: 4}";

    /// <summary>
    /// A fake family whose policies return, on both rewards, 1 − (λ₂ − 0.375)² per episode (soups by their λ, experts as
    /// vertices), the test episodes 0.01 higher than the validation ones; the init and MORL return 0.
    /// </summary>
    private static FakeFamily Peaked()
    {
        FakeFamily family = null!;
        family = new FakeFamily
        {
            Returns = spec =>
            {
                string name = Path.GetFileName(spec.PolicyDir);
                double? l2 = name.EndsWith("-expert-1", StringComparison.Ordinal) ? 0
                    : name.EndsWith("-expert-2", StringComparison.Ordinal) ? 1
                    : family.Specs.OfType<SoupJobSpec>().LastOrDefault(s => s.Dir == spec.PolicyDir)?.Weights[1];
                double r = l2 is double t ? 1 - (t - 0.375) * (t - 0.375) : 0;
                return [[r, r, r + 0.01, r + 0.01], [r, r, r + 0.01, r + 0.01]];
            },
        };
        return family;
    }

    private static void RunAll(ExperimentPlan plan, FakeFamily family)
    {
        var tasks = new TaskCatalogue([family]);
        ExperimentRunner.Run(plan, (job, _, _) => Task.Run(() => { JobRunner.Run(plan, job, tasks); return 0; }), 2, _ => { }, CancellationToken.None);
    }

    [Fact]
    public void Search_FindsTheSoupBetweenGridPoints_AndResultsReportItsCostAndGain()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir, Study + "\nlambda_search: {rounds: 2}");
        Assert.Equal(0.125, plan.Config.LambdaSearch!.Step); // half the grid's step
        // 2 seeds × 2 rounds × 1 μ × 2 directions, a soup and an evaluation each.
        Assert.Equal(16, plan.Jobs.Count(j => j.Id.Contains("-search-", StringComparison.Ordinal)));
        FakeFamily family = Peaked();
        RunAll(plan, family);

        // Round 1 from the grid's best (0.5, 0.5) (tied with λ₂ = 0.25, nearer μ); round 2 from the peak, δ halved.
        SearchRecord Record(string id) => SearchJobs.Read(plan, plan.Get(id));
        Assert.Equal([0.625, 0.375], Record("s1-search-1-01-1").Lambda!);
        Assert.Equal([0.5, 0.5], Record("s1-search-1-01-1").From);
        Assert.Equal([0.375, 0.625], Record("s2-search-1-01-2").Lambda!); // every seed evaluates the same λ
        Assert.Equal([0.625, 0.375], Record("s1-search-2-01-1").From);
        Assert.Equal([0.6875, 0.3125], Record("s1-search-2-01-1").Lambda!);
        Assert.Equal([0.5625, 0.4375], Record("s2-search-2-01-2").Lambda!);
        Assert.Equal(0.0625, Record("s2-search-2-01-2").Step);
        // The soups were made with those weights (the family saw them).
        Assert.Contains(family.Specs.OfType<SoupJobSpec>(), s => s.Dir == plan.JobDir(plan.Get("s2-search-2-01-1")) && s.Weights[1] == 0.3125);

        ExperimentResults results = ResultsBuilder.Build(plan, family);
        Assert.Equal(["search (0.625, 0.375)", "search (0.375, 0.625)", "search (0.6875, 0.3125)", "search (0.5625, 0.4375)"],
            results.Policies.Where(p => p.Kind == "search").Select(p => p.Label));
        // Search soups are candidates, never front members.
        Assert.DoesNotContain(results.RsFront.Front, l => l.StartsWith("search", StringComparison.Ordinal));

        PreferenceResult half = results.Preferences!.Items.Single(i => i.Sources.Contains("morl"));
        Assert.Equal([0.625, 0.375], half.LambdaStar);
        Assert.Equal("search (0.625, 0.375)", half.LambdaStarLabel);
        Assert.Equal([0.5, 0.5], half.LambdaStarGrid!);
        // Test utilities: 1.01 at the peak against 1.01 − 0.125² at the grid's best, the same in every test episode.
        Assert.Equal(1.01, half.TestStar.Mean, 12);
        Assert.Equal(1.01 - 0.015625, half.TestStarGrid!.Mean, 12);
        Assert.Equal(0.015625, half.StarMinusGrid!.Mean, 12);

        SearchResult search = results.Preferences.Search!;
        Assert.Equal((2, 0.125, "morl", 1), (search.Rounds, search.FirstStep, search.At, search.Preferences));
        Assert.Equal((4, 4, 8, 10, 4), (search.Proposals, search.Soups, search.Evaluations, search.GridEvaluations, search.EpisodesPerEvaluation));
        Assert.Equal(0.8, search.EvaluationsVsGrid, 12);
        Assert.Equal(1, search.LeftGrid);
        Assert.Equal(0.015625, search.MeanGainOverGrid, 12);

        string summary = Runner.Report.ExperimentReport.SummaryTable(results);
        Assert.Contains("λ search (2 round(s) from δ = 0.125, at MORL's 1 μ): 4 extra soup(s) of 4 proposals, 8 evaluations of 4 episodes (80% of the grid's 10); " +
                        "λ*(μ) left the grid at 1 of 1 μ", summary);
        // The search's records are written for a reader: λ and δ as themselves.
        Assert.Contains("\"direction\": \"weight from expert 2 to expert 1\"", File.ReadAllText(Path.Combine(plan.JobDir(plan.Get("s1-search-1-01-1")), SearchJobs.SearchFile)));
    }

    [Fact]
    public void Search_SkippedProposal_HasNoSoupAndNoEvaluation()
    {
        // Every soup returns λ₁ on both rewards: expert 1 (λ = (1, 0)) is best; moving weight to it is off the simplex.
        FakeFamily family = null!;
        family = new FakeFamily
        {
            Returns = spec =>
            {
                string name = Path.GetFileName(spec.PolicyDir);
                double l1 = name.EndsWith("-expert-1", StringComparison.Ordinal) ? 1 : name.EndsWith("-expert-2", StringComparison.Ordinal) ? 0
                    : family.Specs.OfType<SoupJobSpec>().LastOrDefault(s => s.Dir == spec.PolicyDir)?.Weights[0] ?? 0;
                return [[l1, l1], [l1, l1]];
            },
        };
        ExperimentPlan plan = PlanFixtures.Plan(_dir, "soups: {step: 0.5}\nmorl: {preferences: [0.5]}\nlambda_search: {rounds: 1}");
        RunAll(plan, family);
        Job skipped = plan.Get("s1-search-1-01-1");
        SearchRecord record = SearchJobs.Read(plan, skipped);
        Assert.Null(record.Lambda!);
        Assert.Equal("off the simplex (weight 2 is 0 < δ 0.25)", record.Skipped);
        Assert.False(File.Exists(Path.Combine(plan.JobDir(skipped), "policy")));
        Assert.True(plan.IsDone(plan.EvalOf(skipped)));
        Assert.False(File.Exists(Path.Combine(plan.JobDir(plan.EvalOf(skipped)), JobRunner.EvalFileName)));
        ExperimentResults results = ResultsBuilder.Build(plan, family);
        Assert.Equal(["search (0.75, 0.25)"], results.Policies.Where(p => p.Kind == "search").Select(p => p.Label));
        Assert.Equal((2, 1), (results.Preferences!.Search!.Proposals, results.Preferences.Search.Soups));
    }

    [Fact]
    public void Search_AddsJobs_AndChangesNoOtherJobsKey()
    {
        ExperimentPlan without = PlanFixtures.Plan(_dir, Study);
        ExperimentPlan with = PlanFixtures.Plan(_dir, Study + "\nlambda_search: {rounds: 3, step: 0.1}");
        Dictionary<string, string> keys = without.Jobs.ToDictionary(j => j.Id, j => j.Key);
        Assert.All(with.Jobs.Where(j => keys.ContainsKey(j.Id)), j => Assert.Equal(keys[j.Id], j.Key));
        Assert.Equal(without.Jobs.Count + 2 * 2 * 3 * 1 * 2, with.Jobs.Count);
        Assert.Equal(with.Jobs.Count, ExperimentPlan.CountJobs(with.Config));
        // A round waits for every seed's evaluations of the experts, the grid and the rounds before it.
        Job round2 = with.Get("s1-search-2-01-1");
        Assert.Contains("s2-soup-03-eval", round2.DependsOn);
        Assert.Contains("s2-expert-1-eval", round2.DependsOn);
        Assert.Contains("s2-search-1-01-2-eval", round2.DependsOn);
        Assert.DoesNotContain("s1-search-2-01-2-eval", round2.DependsOn);
        // Round 1's keys do not depend on how many rounds follow; a round's step does.
        ExperimentPlan fewer = PlanFixtures.Plan(_dir, Study + "\nlambda_search: {rounds: 1, step: 0.1}");
        Assert.Equal(fewer.Get("s1-search-1-01-1").Key, with.Get("s1-search-1-01-1").Key);
        ExperimentPlan other = PlanFixtures.Plan(_dir, Study + "\nlambda_search: {rounds: 1, step: 0.2}");
        Assert.NotEqual(other.Get("s1-search-1-01-1").Key, with.Get("s1-search-1-01-1").Key);
    }

    [Theory]
    [InlineData("soups: {step: 0.1}\nmorl: {preferences: [0.5]}\nlambda_search: {}", 2, 0.05, "morl")]
    [InlineData("soups: {divisions: 4}\nmorl: {preferences: [0.5]}\nlambda_search: {rounds: 3}", 3, 0.125, "morl")]
    [InlineData("soups: {points: [0.3]}\nlambda_search: {at: all}", 2, 0.05, "all")]
    public void Config_Defaults(string extra, int rounds, double step, string at)
    {
        ExperimentConfig c = PlanFixtures.Load(_dir, FakeFamily.Yaml(extra));
        Assert.Equal((rounds, step, at), (c.LambdaSearch!.Rounds, c.LambdaSearch.Step, c.LambdaSearch.At));
    }

    [Fact]
    public void Config_AtAll_SearchesTheExpectedUtilityGridThenMorlsOtherPreferences()
    {
        ExperimentConfig c = PlanFixtures.Load(_dir, FakeFamily.Yaml("soups: {step: 0.5}\nmorl: {preferences: [0.5, 0.3]}\nevaluation: {eu_divisions: 2}\nlambda_search: {at: all, rounds: 1}"));
        Assert.Equal([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.7, 0.3]], c.SearchPreferences());
        Assert.Equal(4 * 2, ExperimentPlan.CountSearchSoups(c));
    }

    [Theory]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {rounds: 0}", "'lambda_search.rounds'")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {rounds: 6}", "lambda_search.rounds")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {step: 0.6}", "'lambda_search.step': must be in (0, 0.5], got 0.6")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {step: 0}", "'lambda_search.step': must be in (0, 0.5], got 0")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {step: 0.004, rounds: 5}", "ends at 0.00025, below 0.001")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {at: everywhere}", "'lambda_search.at': must be 'morl' or 'all', got 'everywhere'")]
    [InlineData("lambda_search: {rounds: 1}", "'lambda_search.at': is 'morl' but the run has no morl.preferences")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: {rounds: 1, depth: 2}", "depth")]
    [InlineData("morl: {preferences: [0.5]}\nlambda_search: 3", "lambda_search")]
    [InlineData("morl: {preferences: [0.5]}\nrepeats: 3\nevaluation: {episodes: 1}\nlambda_search: {rounds: 1}", "'lambda_search': chooses on one half of each evaluation's returns")]
    public void Config_Invalid_OneLineErrorNamingTheKey(string extra, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => PlanFixtures.Load(_dir, FakeFamily.Yaml("soups: {step: 0.5}\n" + extra)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ResolvedConfig_RoundTrips_AndAHostileOneIsRefused()
    {
        ExperimentConfig c = PlanFixtures.Load(_dir, FakeFamily.Yaml(Study + "\nlambda_search: {rounds: 2, step: 0.1, at: all}"));
        string run = _dir.File("run");
        ExperimentPlan prepared = ExperimentRunner.Prepare(c, run);
        ExperimentPlan opened = ExperimentRunner.Open(run, FakeFamily.Catalogue);
        Assert.Equal(c.LambdaSearch, opened.Config.LambdaSearch);
        Assert.Equal(prepared.Jobs.Select(j => (j.Id, j.Key)), opened.Jobs.Select(j => (j.Id, j.Key)));

        string resolved = Path.Combine(run, ExperimentPlan.ResolvedConfigFile);
        File.WriteAllText(resolved, File.ReadAllText(resolved).Replace("\"rounds\": 2", "\"rounds\": 50", StringComparison.Ordinal));
        var e = Assert.Throws<SoupInputException>(() => ExperimentRunner.Open(run, FakeFamily.Catalogue));
        Assert.Contains("'LambdaSearch.Rounds': must be between 1 and 5, got 50", e.Message);
    }

    [Fact]
    public void SearchRecord_Corrupt_IsAOneLineError()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir, Study + "\nlambda_search: {rounds: 1}");
        Job job = plan.Get("s1-search-1-01-1");
        Directory.CreateDirectory(plan.JobDir(job));
        File.WriteAllText(Path.Combine(plan.JobDir(job), SearchJobs.SearchFile), JsonSerializer.Serialize(new { mu = new[] { 0.5, 0.5 }, round = 1, step = 0.1, direction = "x", from = new[] { 0.5, 0.5 }, lambda = new[] { 0.9, 0.9 } }));
        var e = Assert.Throws<SoupInputException>(() => SearchJobs.Read(plan, job));
        Assert.Contains("lambda must be 2 non-negative weights summing to 1", e.Message);
        File.WriteAllText(Path.Combine(plan.JobDir(job), SearchJobs.SearchFile), "{not json");
        Assert.Contains("not a λ-search record", Assert.Throws<SoupInputException>(() => SearchJobs.Read(plan, job)).Message);
    }
}
