using System.Text.Json;
using RewardedSoups.Runner;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>What a configuration may be: YAML or JSON alike, anchors within the budget, plans right up to the limits.</summary>
public sealed class ExperimentConfigTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ExperimentConfig Load(string text, string file = "c.yaml")
    {
        File.WriteAllText(_dir.File(file), text);
        return ExperimentConfig.Load(_dir.File(file), FakeFamily.Catalogue);
    }

    [Fact]
    public void Load_SameConfigurationInYamlAndJson_ResolvesIdentically()
    {
        const string yaml = "name: same\ntask: fake\nseed: 3\nrepeats: 2\npretrain: {reward: a, steps: 10}\n" +
                            "experts:\n  rewards: [a, {name: c, terms: {x: 0.5, y: -1e-3}}]\n  steps: 1000\n" +
                            "soups: {points: [0.25, [0.5, 0.5]]}\nmorl: {preferences: [0.5]}\nevaluation: {episodes: 3, seeds: [7, -7], eu_divisions: 4}\nfake: {size: 7}\n";
        const string json = "\uFEFF{\"name\": \"same\", \"task\": \"fake\", \"seed\": 3, \"repeats\": 2, \"pretrain\": {\"reward\": \"a\", \"steps\": 10}," +
                            "\"experts\": {\"rewards\": [\"a\", {\"name\": \"c\", \"terms\": {\"x\": 0.5, \"y\": -1e-3}}], \"steps\": 1000.0}," +
                            "\"soups\": {\"points\": [0.25, [0.5, 0.5]]}, \"morl\": {\"preferences\": [0.5]}, \"evaluation\": {\"episodes\": 3, \"seeds\": [7, -7], \"eu_divisions\": 4}, \"fake\": {\"size\": 7}}";
        string fromYaml = ExperimentPlan.ConfigJson(Load(yaml));
        Assert.Equal(fromYaml, ExperimentPlan.ConfigJson(Load(json, "c.json")));
        Assert.Contains("\"size\": 7", fromYaml);
    }

    [Fact]
    public void Load_AnchorsAndAliasesWithinTheBudget_Expand()
    {
        ExperimentConfig c = Load("name: x\ntask: fake\npretrain: {reward: &r {name: mix, terms: {x: 1, y: 1}}, steps: 10}\n" +
                                  "experts: {rewards: [*r, b], steps: 10}\nmorl: {preferences: &p [0.5]}\nsoups: {points: *p}\n");
        Assert.Equal("mix", c.PretrainReward!.Name);
        Assert.Equal("mix", c.Experts[0].Name);
        Assert.Equal(c.PretrainReward.Weights, c.Experts[0].Weights);
        Assert.NotSame(c.PretrainReward.Weights, c.Experts[0].Weights);
        Assert.Equal([0.5, 0.5], c.SoupGrid[0]);
    }

    [Fact]
    public void Load_MorlPreferencesOffTheGrid_JoinItAfterTheGridPoints()
    {
        // Step 0.5 gives (1, 0), (0.5, 0.5), (0, 1); μ = 0.25, i.e. (0.75, 0.25), is off it, 0.5 on it: one soup appended, none moved.
        ExperimentConfig c = Load("name: x\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: [a, b], steps: 10}\n" +
                                  "soups: {step: 0.5}\nmorl: {preferences: [0.25, 0.5]}\n");
        Assert.Equal([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.75, 0.25]], c.SoupGrid.Select(w => w.ToArray()));
    }

    [Fact]
    public void Load_Ensembles_TrueTakesTheGridsInteriorPoints_AListItsOwn_AndTheyJoinThePlanAndTheResolvedConfiguration()
    {
        const string head = "name: x\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: [a, b], steps: 10}\nsoups: {step: 0.5}\nmorl: {preferences: [0.25]}\n";
        ExperimentConfig none = Load(head);
        Assert.Empty(none.EnsembleGrid);
        Assert.Empty(Load(head + "ensembles: false\n").EnsembleGrid);
        ExperimentConfig all = Load(head + "ensembles: true\n");
        // The grid (1, 0), (0.5, 0.5), (0, 1) and MORL's (0.75, 0.25): the vertices are the experts themselves.
        Assert.Equal([[0.5, 0.5], [0.75, 0.25]], all.EnsembleGrid.Select(w => w.ToArray()));
        ExperimentConfig listed = Load(head + "ensembles: [[0.3, 0.7], 0.75, [1, 0]]\n");
        Assert.Equal([[0.3, 0.7], [0.25, 0.75]], listed.EnsembleGrid.Select(w => w.ToArray()));

        ExperimentPlan plan = ExperimentRunner.Prepare(all, _dir.File("run"));
        Job ensemble = plan.Get("s1-ensemble-02");
        Assert.Equal(JobKind.Ensemble, ensemble.Kind);
        Assert.Equal(["s1-init", "s1-expert-1", "s1-expert-2"], ensemble.DependsOn);
        Assert.Equal("s1-ensemble-02", plan.Get("s1-ensemble-02-eval").Policy);
        Assert.Equal(ExperimentPlan.CountJobs(all), plan.Jobs.Count);
        // Reopened from config.resolved.json: the same ensembles, the same keys.
        ExperimentPlan reopened = ExperimentRunner.Open(_dir.File("run"), FakeFamily.Catalogue);
        Assert.Equal(all.EnsembleGrid.Select(w => w.ToArray()), reopened.Config.EnsembleGrid.Select(w => w.ToArray()));
        Assert.Equal(plan.Jobs.Select(j => j.Key), reopened.Jobs.Select(j => j.Key));
        // Adding ensembles to a configuration changes no other job's key: a finished run gains only the ensembles' jobs.
        ExperimentPlan without = ExperimentRunner.Prepare(none, _dir.File("run2"));
        Assert.All(without.Jobs, j => Assert.Equal(j.Key, plan.Get(j.Id).Key));
    }

    [Theory]
    [InlineData("ensembles: 3", "'ensembles': must be true, false or a list of λ")]
    [InlineData("ensembles: [[0.5, 0.6]]", "ensembles[0]")]
    [InlineData("ensembles: [0.5, [0.5, 0.5]]", "'ensembles[1]': appears twice")]
    [InlineData("ensembles: [[0.2, 0.3, 0.5]]", "ensembles[0]")]
    public void Load_BadEnsembles_OneLineErrorNamingTheKey(string line, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => Load(FakeFamily.Yaml(line)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("name: x\n---\nname: y\n", "expected one YAML document, found more")]
    [InlineData("# only a comment\n", "expected one YAML document, found 0")]
    [InlineData("name: *nowhere\n", "'name': alias *nowhere names no anchor before it")]
    [InlineData("name: [unclosed\n", "not valid YAML at line")]
    public void Load_MalformedYaml_OneLineError(string yaml, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => Load(yaml));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("{\"name\": \"x\",}", "not valid JSON")]
    [InlineData("{\"name\": NaN}", "not valid JSON")]
    [InlineData("{\"name\": \"x\"} {}", "not valid JSON")]
    public void Load_MalformedJson_OneLineError(string json, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => Load(json, "c.json"));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("soups: {step: 0.001}\nrepeats: 4", 8032)]          // 1001 soups, 4 seeds: under the job limit
    [InlineData("soups: {divisions: 1000}", 2008)]                    // 1001 soups from divisions
    [InlineData("repeats: 100", 2800)]                                // the most training seeds
    [InlineData("morl: {preferences: [0.5]}\nevaluation: {episodes: 10000, eu_divisions: 999999}", 30)]
    [InlineData("fake: {modes: 2}\nsoups: {step: 0.5}", 18)]           // a second soup mode doubles the soups
    public void Load_PlanAtTheLimits_AcceptedAndCountedAsPlanned(string extra, int jobs)
    {
        ExperimentConfig c = Load(FakeFamily.Yaml(extra));
        Assert.Equal(jobs, ExperimentPlan.CountJobs(c));
        Assert.Equal(jobs, ExperimentPlan.Create(c, _dir.File("run")).Jobs.Count);
        Assert.False(Directory.Exists(_dir.File("run")));
    }

    [Fact]
    public void Load_WholeNumbersWrittenAsDecimals_Accepted()
    {
        ExperimentConfig c = Load(FakeFamily.Yaml("repeats: 2.0\nevaluation: {episodes: 1e3}"));
        Assert.Equal(2, c.Repeats);
        Assert.Equal(1000, c.Episodes);
        Assert.Equal(2, JsonSerializer.Deserialize<ExperimentConfig>(ExperimentPlan.ConfigJson(c))!.Repeats);
    }

    private const string Base = "name: m\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: [a, b], steps: 10}\n";

    [Fact]
    public void SoupMethods_EachGetsItsSoupsAndKeepsItsParameters_ThroughTheResolvedConfiguration()
    {
        ExperimentConfig c = Load(Base + "soups: {step: 0.5, methods: [linear, ties, {method: dare_ties, label: dare, density: 0.5, seed: 3}, slerp]}\n");
        Assert.Equal(["linear", "ties", "dare", "slerp"], c.SoupModes);
        Assert.Equal("dare_ties", c.SoupMethodOf("dare").Method.Name);
        Assert.Equal((0.5, 3L), (((Soup.DareParameters)c.SoupMethodOf("dare").Parameters).Density, ((Soup.DareParameters)c.SoupMethodOf("dare").Parameters).Seed));
        Assert.True(c.SoupMethodOf("linear").IsLinear);
        var plan = ExperimentPlan.Create(c, _dir.File("run"));
        Assert.Contains(plan.Jobs, j => j.Id == "s1-soup-ties-02");
        Assert.Equal(4 * 3, plan.Jobs.Count(j => j.Kind == JobKind.Soup));
        // The resolved configuration holds the methods with every parameter, and reading it back gives the same plan.
        string json = ExperimentPlan.ConfigJson(c);
        Assert.Contains("\"SoupMethods\"", json);
        Directory.CreateDirectory(_dir.File("run"));
        File.WriteAllText(Path.Combine(_dir.File("run"), ExperimentPlan.ResolvedConfigFile), json);
        ExperimentPlan reopened = ExperimentRunner.Open(_dir.File("run"), FakeFamily.Catalogue);
        Assert.Equal(plan.Jobs.Select(j => j.Key), reopened.Jobs.Select(j => j.Key));
        Assert.Equal(0.5, ((Soup.DareParameters)reopened.Config.SoupMethodOf("dare").Parameters).Density);
    }

    [Fact]
    public void SoupMethods_ParametersChangeTheSoupJobsKeys_NotTheTrainings()
    {
        var a = ExperimentPlan.Create(Load(Base + "soups: {step: 0.5, methods: [{method: ties, density: 0.5}]}\n"), _dir.File("a"));
        var b = ExperimentPlan.Create(Load(Base + "soups: {step: 0.5, methods: [{method: ties, density: 0.4}]}\n"), _dir.File("b"));
        Assert.Equal(a.Jobs.Where(j => j.Kind == JobKind.Train).Select(j => j.Key), b.Jobs.Where(j => j.Kind == JobKind.Train).Select(j => j.Key));
        Assert.NotEqual(a.Jobs.Single(j => j.Id == "s1-soup-01").Key, b.Jobs.Single(j => j.Id == "s1-soup-01").Key);
    }

    [Theory]
    [InlineData("methods: [magic]", "'soups.methods[0]': unknown merge method 'magic'")]
    [InlineData("methods: [ties, ties]", "'soups.methods[1]': label 'ties' is used twice")]
    [InlineData("methods: [{method: ties, density: 2}]", "'soups.methods[0].density': must be in (0, 1], got 2")]
    [InlineData("methods: [{method: ties, seed: 2}]", "'soups.methods[0].seed': unknown key; valid here: lambda, normalize, density")]
    [InlineData("methods: [{method: slerp, t: 0.5}]", "'soups.methods[0].t': in an experiment slerp's t is each soup's λ₂")]
    [InlineData("methods: [{method: ties, label: 'a b'}]", "label 'a b' must be a plain name")]
    [InlineData("methods: [{density: 0.5}]", "'soups.methods[0].method': is required")]
    [InlineData("methods: []", "'soups.methods': needs at least one method")]
    public void SoupMethods_BadEntries_OneLineErrorNamingTheKey(string methods, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => Load(Base + "soups: {step: 0.5, " + methods + "}\n"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void SoupMethods_SlerpNeedsTwoExperts()
    {
        var e = Assert.Throws<SoupInputException>(() => Load("name: m\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: [a, b, {name: c, terms: {x: 1, y: 1}}], steps: 10}\nsoups: {divisions: 2, methods: [linear, slerp]}\n"));
        Assert.Contains("'soups.methods[1]': slerp merges exactly 2 models; this run has 3 experts", e.Message);
    }
}
