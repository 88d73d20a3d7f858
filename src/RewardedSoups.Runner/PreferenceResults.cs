using System.Text.Json.Serialization;
using RewardedSoups.Pareto;
using RewardedSoups.Statistics;

namespace RewardedSoups.Runner;

/// <summary>
/// results.json's <c>preferences</c>: for each preference μ (the expected-utility grid and the MORL preferences),
/// the soup λ*(μ) whose validation utility μ · R is highest, and the test utility of θ(μ), θ(λ*(μ)) and MORL's policy
/// for μ, with paired intervals (the same test episodes). See <see cref="PreferredSoup"/>.
/// </summary>
public sealed record PreferencesResult
{
    [JsonPropertyName("utility")]
    public string Utility { get; init; } = "mu · rewards, the linear utility the expected-utility metric averages, on the rewards' own scales";
    [JsonPropertyName("split")]
    public string Split { get; init; } = "validation: the first half of every evaluation's returns (its first evaluation seeds, or its first episodes with one seed); " +
        "test: the other half; lambda_star is chosen on validation, every utility below is on test";
    [JsonPropertyName("candidates")]
    public string Candidates { get; init; } = "the soups of the first soup mode on the λ grid, experts included, and the λ search's soups (lambda_search)";
    [JsonPropertyName("items")] public required IReadOnlyList<PreferenceResult> Items { get; init; }
    /// <summary>How many μ of the expected-utility grid λ*(μ) serves better than λ = μ beyond noise (paired interval above 0), and worse.</summary>
    [JsonPropertyName("star_beats_mu")] public required int StarBeatsMu { get; init; }
    [JsonPropertyName("star_loses_to_mu")] public required int StarLosesToMu { get; init; }
    /// <summary>The mean over the expected-utility grid of the test utility gained by λ*(μ) over λ = μ.</summary>
    [JsonPropertyName("mean_gain_over_mu")] public required double MeanGainOverMu { get; init; }
    /// <summary>The search beyond the λ grid and what it cost and gained; null without <c>lambda_search</c>.</summary>
    [JsonPropertyName("search")] public SearchResult? Search { get; init; }
}

/// <summary>results.json's <c>preferences.search</c>: the λ search's settings, its cost in evaluations, and what it changed at the μ it searched.</summary>
public sealed record SearchResult
{
    [JsonPropertyName("method")]
    public string Method { get; init; } = "compass search on the simplex: each round evaluates λ + δ(e_i − e_j) around the best soup so far (on validation), δ halving every round; " +
        "proposals off the simplex, already evaluated or already proposed that round are skipped";
    [JsonPropertyName("rounds")] public required int Rounds { get; init; }
    [JsonPropertyName("first_step")] public required double FirstStep { get; init; }
    [JsonPropertyName("at")] public required string At { get; init; }
    [JsonPropertyName("preferences")] public required int Preferences { get; init; }
    /// <summary>Proposals made, and the distinct soups among them that were made and evaluated (the others were skipped).</summary>
    [JsonPropertyName("proposals")] public required int Proposals { get; init; }
    [JsonPropertyName("soups")] public required int Soups { get; init; }
    /// <summary>Evaluations the search added (its soups × training seeds), each of <c>episodes_per_evaluation</c> episodes, against the grid's.</summary>
    [JsonPropertyName("evaluations")] public required int Evaluations { get; init; }
    [JsonPropertyName("grid_evaluations")] public required int GridEvaluations { get; init; }
    [JsonPropertyName("episodes_per_evaluation")] public required int EpisodesPerEvaluation { get; init; }
    [JsonPropertyName("evaluations_vs_grid")] public required double EvaluationsVsGrid { get; init; }
    /// <summary>At the searched μ: how many times λ*(μ) left the grid, and beat / lost to the grid's own λ*(μ) beyond noise (paired test utilities).</summary>
    [JsonPropertyName("left_grid")] public required int LeftGrid { get; init; }
    [JsonPropertyName("beats_grid")] public required int BeatsGrid { get; init; }
    [JsonPropertyName("loses_to_grid")] public required int LosesToGrid { get; init; }
    /// <summary>The mean over the searched μ of the test utility gained over the grid's λ*(μ).</summary>
    [JsonPropertyName("mean_gain_over_grid")] public required double MeanGainOverGrid { get; init; }
}

/// <summary>What <see cref="PreferenceAnalysis.Build"/> needs of a λ search: its settings, the μ it served, its evaluated soups (label, λ) and counts.</summary>
public sealed record SearchInput(LambdaSearchSettings Settings, IReadOnlyList<double[]> Mus, IReadOnlyList<(string Label, double[] Lambda)> Soups,
    int Proposals, int Evaluations, int GridEvaluations, int EpisodesPerEvaluation);

/// <summary>One preference μ: the chosen soup and the test utilities.</summary>
public sealed record PreferenceResult
{
    [JsonPropertyName("mu")] public required double[] Mu { get; init; }
    /// <summary><c>eu</c> (a point of the expected-utility grid), <c>morl</c> (a MORL preference), <c>asked</c> (by <c>soup prefer</c>; never written to results.json).</summary>
    [JsonPropertyName("sources")] public required IReadOnlyList<string> Sources { get; init; }
    [JsonPropertyName("lambda_star")] public required double[] LambdaStar { get; init; }
    [JsonPropertyName("lambda_star_label")] public required string LambdaStarLabel { get; init; }
    /// <summary>With a λ search: the best soup of the grid alone (chosen on validation), its test utility, and λ*(μ) − it (paired); null otherwise.</summary>
    [JsonPropertyName("lambda_star_grid")] public double[]? LambdaStarGrid { get; init; }
    [JsonPropertyName("test_star_grid")] public MeasureResult? TestStarGrid { get; init; }
    [JsonPropertyName("star_minus_grid")] public MeasureResult? StarMinusGrid { get; init; }
    [JsonPropertyName("validation_utility_star")] public required double ValidationUtilityStar { get; init; }
    /// <summary>Test utility of θ(μ); null when μ is not on the run's λ grid (runs made before MORL preferences joined it).</summary>
    [JsonPropertyName("test_mu")] public MeasureResult? TestMu { get; init; }
    [JsonPropertyName("test_star")] public required MeasureResult TestStar { get; init; }
    /// <summary>Test utility of MORL's policy trained for μ (the expert for a one-hot μ); null where none was trained.</summary>
    [JsonPropertyName("test_morl")] public MeasureResult? TestMorl { get; init; }
    [JsonPropertyName("star_minus_mu")] public MeasureResult? StarMinusMu { get; init; }
    [JsonPropertyName("star_minus_morl")] public MeasureResult? StarMinusMorl { get; init; }
    [JsonPropertyName("mu_minus_morl")] public MeasureResult? MuMinusMorl { get; init; }
    /// <summary>Test utility of the experts' output-space ensemble with λ = μ (the expert for a one-hot μ); null without ensembles at μ.</summary>
    [JsonPropertyName("test_ensemble")] public MeasureResult? TestEnsemble { get; init; }
    /// <summary>The ensemble λ chosen on validation as λ*(μ) is for soups, and its test utility; null without ensembles.</summary>
    [JsonPropertyName("ensemble_star")] public double[]? EnsembleStar { get; init; }
    [JsonPropertyName("test_ensemble_star")] public MeasureResult? TestEnsembleStar { get; init; }
    /// <summary>Ensemble at λ = μ minus the soup at λ = μ, paired on the same test episodes.</summary>
    [JsonPropertyName("ensemble_minus_mu")] public MeasureResult? EnsembleMinusMu { get; init; }
    [JsonPropertyName("ensemble_minus_morl")] public MeasureResult? EnsembleMinusMorl { get; init; }
}

/// <summary>Builds <see cref="PreferencesResult"/> from every policy's returns.</summary>
public static class PreferenceAnalysis
{
    /// <summary>
    /// <paramref name="returns"/>: per policy label, its evaluations' returns <c>[reward][episode]</c> one per training seed
    /// (seed order shared by all policies). Candidates are <paramref name="candidates"/> (label, λ); MORL policies
    /// <paramref name="morl"/> (label, μ); experts <paramref name="experts"/> (label per reward); <paramref name="asked"/>
    /// more preferences to analyse; <paramref name="ensembles"/> the output-space ensembles (label, λ), experts included. Null
    /// with fewer than 2 returns per evaluation (no halves to split).
    /// </summary>
    public static PreferencesResult? Build(
        IReadOnlyDictionary<string, List<double[][]>> returns,
        IReadOnlyList<(string Label, double[] Lambda)> candidates,
        IReadOnlyList<(string Label, double[] Mu)> morl,
        IReadOnlyList<string> experts,
        int euDivisions,
        IReadOnlyList<double[]>? asked = null,
        IReadOnlyList<(string Label, double[] Lambda)>? ensembles = null,
        SearchInput? search = null)
    {
        if (candidates.Count == 0 || returns.Values.Any(seeds => seeds.Any(r => r.Length == 0 || r[0].Length < 2))) return null;
        var validation = new Dictionary<string, double[][]>();
        var test = new Dictionary<string, double[][]>();
        foreach ((string label, List<double[][]> seeds) in returns)
        {
            var halves = seeds.Select(PreferredSoup.Split).ToList();
            validation[label] = Concat(halves.Select(h => h.Validation).ToList());
            test[label] = Concat(halves.Select(h => h.Test).ToList());
        }

        int n = experts.Count;
        var mus = new List<(double[] Mu, List<string> Sources)>();
        void AddMu(double[] mu, string source)
        {
            var known = mus.FirstOrDefault(m => PreferredSoup.SameWeights(m.Mu, mu));
            if (known.Mu is null) mus.Add((mu, [source]));
            else if (!known.Sources.Contains(source)) known.Sources.Add(source);
        }
        foreach (double[] mu in SimplexGrid.Points(n, euDivisions)) AddMu(mu, "eu");
        foreach ((_, double[] mu) in morl) AddMu(mu, "morl");
        foreach (double[] mu in asked ?? []) AddMu(mu, "asked");

        var gridCands = candidates.Select(c => (c.Lambda, validation[c.Label])).ToList();
        // λ*(μ) chooses among every evaluated soup: the grid's, then the search's (ties to the λ nearest μ, then the first).
        var all = candidates.Concat(search?.Soups ?? []).ToList();
        var cands = all.Select(c => (c.Lambda, validation[c.Label])).ToList();
        var ensembleCands = ensembles?.Select(c => (c.Lambda, validation[c.Label])).ToList();
        var items = new List<PreferenceResult>();
        foreach ((double[] mu, List<string> sources) in mus)
        {
            string? ensembleLabel = ensembles?.FirstOrDefault(c => PreferredSoup.SameWeights(c.Lambda, mu)).Label;
            double[]? ofEnsemble = ensembleLabel is null ? null : PreferredSoup.Utilities(mu, test[ensembleLabel]);
            int? ke = ensembleCands is null ? null : PreferredSoup.Choose(mu, ensembleCands);
            double[]? ensembleStar = ke is int e ? PreferredSoup.Utilities(mu, test[ensembles![e].Label]) : null;
            int k = PreferredSoup.Choose(mu, cands);
            double[] star = PreferredSoup.Utilities(mu, test[all[k].Label]);
            int? kg = search is null ? null : PreferredSoup.Choose(mu, gridCands);
            double[]? gridStar = kg is int g ? PreferredSoup.Utilities(mu, test[candidates[g].Label]) : null;
            string? muLabel = candidates.FirstOrDefault(c => PreferredSoup.SameWeights(c.Lambda, mu)).Label;
            double[]? atMu = muLabel is null ? null : PreferredSoup.Utilities(mu, test[muLabel]);
            int oneHot = Array.FindIndex(mu, x => x == 1);
            string? morlLabel = oneHot >= 0 ? experts[oneHot] : morl.FirstOrDefault(m => PreferredSoup.SameWeights(m.Mu, mu)).Label;
            double[]? ofMorl = morlLabel is null ? null : PreferredSoup.Utilities(mu, test[morlLabel]);
            items.Add(new PreferenceResult
            {
                Mu = mu,
                Sources = sources,
                LambdaStar = all[k].Lambda,
                LambdaStarLabel = all[k].Label,
                LambdaStarGrid = kg is int gi ? candidates[gi].Lambda : null,
                TestStarGrid = gridStar is null ? null : MeasureResult.Of(MeanInterval.Of(gridStar)),
                StarMinusGrid = gridStar is null ? null : MeasureResult.Of(MeanInterval.OfDifferences(star, gridStar)),
                ValidationUtilityStar = PreferredSoup.Utilities(mu, validation[all[k].Label]).Average(),
                TestMu = atMu is null ? null : MeasureResult.Of(MeanInterval.Of(atMu)),
                TestStar = MeasureResult.Of(MeanInterval.Of(star)),
                TestMorl = ofMorl is null ? null : MeasureResult.Of(MeanInterval.Of(ofMorl)),
                StarMinusMu = atMu is null ? null : MeasureResult.Of(MeanInterval.OfDifferences(star, atMu)),
                StarMinusMorl = ofMorl is null ? null : MeasureResult.Of(MeanInterval.OfDifferences(star, ofMorl)),
                MuMinusMorl = atMu is null || ofMorl is null ? null : MeasureResult.Of(MeanInterval.OfDifferences(atMu, ofMorl)),
                TestEnsemble = ofEnsemble is null ? null : MeasureResult.Of(MeanInterval.Of(ofEnsemble)),
                EnsembleStar = ke is int chosen ? ensembles![chosen].Lambda : null,
                TestEnsembleStar = ensembleStar is null ? null : MeasureResult.Of(MeanInterval.Of(ensembleStar)),
                EnsembleMinusMu = ofEnsemble is null || atMu is null ? null : MeasureResult.Of(MeanInterval.OfDifferences(ofEnsemble, atMu)),
                EnsembleMinusMorl = ofEnsemble is null || ofMorl is null ? null : MeasureResult.Of(MeanInterval.OfDifferences(ofEnsemble, ofMorl)),
            });
        }
        var onGrid = items.Where(i => i.Sources.Contains("eu") && i.StarMinusMu is not null).ToList();
        SearchResult? searchResult = null;
        if (search is not null)
        {
            var at = items.Where(i => search.Mus.Any(m => PreferredSoup.SameWeights(m, i.Mu))).ToList();
            searchResult = new SearchResult
            {
                Rounds = search.Settings.Rounds,
                FirstStep = search.Settings.Step,
                At = search.Settings.At,
                Preferences = search.Mus.Count,
                Proposals = search.Proposals,
                Soups = search.Soups.Count,
                Evaluations = search.Evaluations,
                GridEvaluations = search.GridEvaluations,
                EpisodesPerEvaluation = search.EpisodesPerEvaluation,
                EvaluationsVsGrid = search.GridEvaluations > 0 ? (double)search.Evaluations / search.GridEvaluations : 0,
                LeftGrid = at.Count(i => !PreferredSoup.SameWeights(i.LambdaStar, i.LambdaStarGrid!)),
                BeatsGrid = at.Count(i => i.StarMinusGrid!.Low > 0),
                LosesToGrid = at.Count(i => i.StarMinusGrid!.High < 0),
                MeanGainOverGrid = at.Count == 0 ? 0 : at.Average(i => i.StarMinusGrid!.Mean),
            };
        }
        return new PreferencesResult
        {
            Search = searchResult,
            Items = items,
            StarBeatsMu = onGrid.Count(i => i.StarMinusMu!.Low > 0),
            StarLosesToMu = onGrid.Count(i => i.StarMinusMu!.High < 0),
            MeanGainOverMu = onGrid.Count == 0 ? 0 : onGrid.Average(i => i.StarMinusMu!.Mean),
        };
    }

    /// <summary>Returns <c>[reward][episode]</c> of several training seeds, episodes appended seed after seed.</summary>
    public static double[][] Pool(IReadOnlyList<double[][]> seeds) => Concat(seeds);

    private static double[][] Concat(IReadOnlyList<double[][]> seeds) =>
        Enumerable.Range(0, seeds[0].Length).Select(i => seeds.SelectMany(s => s[i]).ToArray()).ToArray();
}
