using System.Text.Json.Serialization;
using RewardedSoups.Statistics;

namespace RewardedSoups.Runner;

/// <summary>
/// <c>results.json</c> of a run folder (schema <see cref="CurrentSchema"/>). All rewards are maximised;
/// reward vectors are in the order of <see cref="Rewards"/>, which is the experts' order in the
/// configuration; λᵢ is the weight of expert i in that order (<see cref="LambdaConvention"/>).
/// </summary>
public sealed record ExperimentResults
{
    /// <summary>2: fronts' between-seed statistics (<see cref="SeedSpread"/>, <see cref="RsVsMorl"/>); schema-1 files load with them null.</summary>
    public const int CurrentSchema = 2;

    [JsonPropertyName("schema_version")] public int SchemaVersion { get; init; } = CurrentSchema;
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("task")] public required string Task { get; init; }
    /// <summary>Names of the experts' rewards, in configuration order.</summary>
    [JsonPropertyName("rewards")] public required IReadOnlyList<string> Rewards { get; init; }
    [JsonPropertyName("lambda_convention")]
    public string LambdaConvention { get; init; } =
        "lambda[i] is the weight of expert i, experts in configuration order; a soup is sum_i lambda[i] * theta_i";
    [JsonPropertyName("interval")]
    public string Interval { get; init; } =
        "95% Student-t interval of the mean episode return, over all evaluation episodes of all training seeds";
    [JsonPropertyName("training_seeds")] public required IReadOnlyList<int> TrainingSeeds { get; init; }
    /// <summary>How many returns each policy's means and intervals pool (all evaluation seeds and training seeds), in <see cref="EvaluationUnit"/>.</summary>
    [JsonPropertyName("episodes_per_policy")] public required int EpisodesPerPolicy { get; init; }
    /// <summary>What one return is: <c>episodes</c> (locomotion), <c>continuations</c> (text), <c>images</c>; files written before it say episodes.</summary>
    [JsonPropertyName("evaluation_unit")] public string EvaluationUnit { get; init; } = "episodes";
    /// <summary>Every evaluated policy: the shared init, the experts, the soups, the MORL policies.</summary>
    [JsonPropertyName("policies")] public required IReadOnlyList<PolicyResult> Policies { get; init; }

    /// <summary>The names of every policy's measures (<see cref="PolicyResult.Measures"/>), in ordinal order: the columns of the CSV and the report.</summary>
    [JsonIgnore] public IReadOnlyList<string> MeasureNames => Policies.SelectMany(p => p.Measures?.Keys ?? []).Distinct().Order(StringComparer.Ordinal).ToList();
    [JsonPropertyName("rs_front")] public required FrontResult RsFront { get; init; }
    [JsonPropertyName("morl_front")] public required FrontResult MorlFront { get; init; }
    /// <summary>Hypervolume reference point: by default the shared init's mean rewards.</summary>
    [JsonPropertyName("reference_point")] public required double[] ReferencePoint { get; init; }
    [JsonPropertyName("reference_point_source")] public required string ReferencePointSource { get; init; }
    [JsonPropertyName("cost")] public required CostResult Cost { get; init; }
    /// <summary>Linear-mode connectivity: soup reward minus the chord between experts, per reward.</summary>
    [JsonPropertyName("lmc")] public required LmcResult Lmc { get; init; }
    /// <summary>What the task family measured of the shared init of the first training seed beyond rewards (text: validation perplexity); null if nothing.</summary>
    [JsonPropertyName("init_details")] public System.Text.Json.Nodes.JsonObject? InitDetails { get; init; }
    /// <summary>
    /// Per kind of soup — the task family's linear modes (e.g. LoRA <c>delta</c> and <c>factors</c>) and every other
    /// merge method of <c>soups.methods</c> —: its front and LMC gaps; the first is the RS front.
    /// </summary>
    [JsonPropertyName("soup_modes")] public IReadOnlyList<SoupModeResult> SoupModes { get; init; } = [];
    /// <summary>RS against MORL training seed by training seed (null in schema-1 files).</summary>
    [JsonPropertyName("rs_vs_morl")] public SeedComparison? RsVsMorl { get; init; }
    /// <summary>
    /// From a preference μ to a soup: λ*(μ) chosen on validation returns, test utilities of θ(μ), θ(λ*(μ)) and MORL's
    /// policy for μ (<see cref="PreferenceAnalysis"/>). Null in files written before it and when an evaluation has a single
    /// return (no halves to split).
    /// </summary>
    [JsonPropertyName("preferences")] public PreferencesResult? Preferences { get; init; }
    /// <summary>The experts' output-space ensembles against the soups and MORL (null when the run has none: <c>ensembles:</c>).</summary>
    [JsonPropertyName("ensemble")] public EnsembleResult? Ensemble { get; init; }
    /// <summary>Measured times, written apart (timings.json): null when the results were read from a file.</summary>
    [JsonIgnore] public Timings? Timings { get; init; }
}

/// <summary>
/// The output-space rival of weight soups: the experts combined at inference (text: Σ λᵢ ℓᵢ of the logits; locomotion: the
/// Gaussians' weighted product; images: Σ λᵢ ε̂ᵢ), evaluated on the same λ, episodes and seeds as the soups. Its training
/// cost is the RS front's (the same experts); its inference cost is measured.
/// </summary>
public sealed record EnsembleResult
{
    [JsonPropertyName("combination")] public required string Combination { get; init; }
    /// <summary>The ensembles and the experts as its vertices, against the same reference point as every front.</summary>
    [JsonPropertyName("front")] public required FrontResult Front { get; init; }
    [JsonPropertyName("hypervolume_vs_rs")] public double? HypervolumeVsRs { get; init; }
    [JsonPropertyName("hypervolume_vs_morl")] public double? HypervolumeVsMorl { get; init; }
    [JsonPropertyName("hypervolume_vs_rs_seeds")] public SeedSpread? HypervolumeVsRsSeeds { get; init; }
    [JsonPropertyName("hypervolume_vs_morl_seeds")] public SeedSpread? HypervolumeVsMorlSeeds { get; init; }
    /// <summary>Ensemble minus RS, training seed against training seed.</summary>
    [JsonPropertyName("vs_rs")] public required SeedComparison VsRs { get; init; }
    /// <summary>Training budget, per training seed: the RS front's (no training beyond the experts).</summary>
    [JsonPropertyName("training_steps")] public required long TrainingSteps { get; init; }
    /// <summary>
    /// Inference cost over the soups of the same λ (every λ both have, every training seed): forward passes per evaluation
    /// sample, ensemble and soup (their measured time: timings.json). Null for evaluations written before it was measured.
    /// </summary>
    [JsonPropertyName("inference")] public InferenceComparison? Inference { get; init; }
    /// <summary>How many λ the ensemble beats the soup of the same λ at beyond noise on each reward (paired interval above 0), and loses.</summary>
    [JsonPropertyName("beats_soup")] public required int[] BeatsSoup { get; init; }
    [JsonPropertyName("loses_to_soup")] public required int[] LosesToSoup { get; init; }
}

/// <summary>
/// Inference cost of the ensembles against the soups of the same λ, in network evaluations per evaluation sample (exact
/// counts: the same in every run of the plan), each the mean over the λ both were measured at. Their measured time is in <see cref="Timings"/> (timings.json), not here.
/// </summary>
public sealed record InferenceComparison
{
    [JsonPropertyName("forward_passes_per_sample")] public required double ForwardPassesPerSample { get; init; }
    [JsonPropertyName("soup_forward_passes_per_sample")] public required double SoupForwardPassesPerSample { get; init; }
    [JsonPropertyName("forward_pass_ratio")] public required double ForwardPassRatio { get; init; }
    /// <summary>How many λ the means are over: those where both the ensemble's and the soup's evaluations counted their passes.</summary>
    [JsonPropertyName("lambdas")] public required int Lambdas { get; init; }
}

/// <summary>
/// <c>timings.json</c>: the wall-clock time of each policy's own computation in its evaluations (simulator, reward models
/// and classifiers excluded), per evaluation sample. A measurement of the machine and of what ran beside each job, so
/// kept out of results.json, which a resumed, a Slurm and an uninterrupted run write to the same bytes.
/// </summary>
public sealed record Timings
{
    public const string FileName = "timings.json";

    [JsonPropertyName("note")]
    public string Note { get; init; } =
        "wall clock of each policy's own computation in its evaluation jobs, per evaluation sample, one compute thread per job; jobs ran beside each other, so ratios are indicative";
    /// <summary>Seconds per evaluation sample, by policy label (evaluations written before times were measured are left out).</summary>
    [JsonPropertyName("seconds_per_sample")] public required IReadOnlyDictionary<string, double> SecondsPerSample { get; init; }
    /// <summary>
    /// Ensembles over the soups of the same λ: the mean over the λ both were timed at (<see cref="EnsembleTimedLambdas"/>) of
    /// their seconds per sample; null without ensembles or times.
    /// </summary>
    [JsonPropertyName("ensemble_seconds_per_sample")] public double? EnsembleSecondsPerSample { get; init; }
    [JsonPropertyName("soup_seconds_per_sample")] public double? SoupSecondsPerSample { get; init; }
    [JsonPropertyName("ensemble_time_ratio")] public double? EnsembleTimeRatio { get; init; }
    [JsonPropertyName("ensemble_timed_lambdas")] public int? EnsembleTimedLambdas { get; init; }
}

/// <summary>
/// A quantity measured once per training seed (a front's hypervolume from that seed's policies, a
/// difference or ratio of two fronts of the same seed): the values, their mean and its 95% Student-t
/// interval over seeds; <see cref="Low"/> and <see cref="High"/> are null with one seed, which has no interval.
/// </summary>
public sealed record SeedSpread
{
    [JsonPropertyName("per_seed")] public required double[] PerSeed { get; init; }
    [JsonPropertyName("mean")] public required double Mean { get; init; }
    [JsonPropertyName("low")] public double? Low { get; init; }
    [JsonPropertyName("high")] public double? High { get; init; }

    /// <summary>The spread of <paramref name="perSeed"/> (finite values, at least one).</summary>
    public static SeedSpread Of(IReadOnlyList<double> perSeed)
    {
        MeanInterval m = MeanInterval.Of(perSeed);
        bool interval = perSeed.Count >= 2 && double.IsFinite(m.HalfWidth);
        return new SeedSpread { PerSeed = perSeed.ToArray(), Mean = m.Mean, Low = interval ? m.Low : null, High = interval ? m.High : null };
    }

    /// <summary>True when the interval lies wholly above (or below) <paramref name="value"/>; null without an interval.</summary>
    public bool? Excludes(double value) => Low is double low && High is double high ? low > value || high < value : null;
}

/// <summary>
/// The RS front against the MORL front, training seed against training seed (both fronts of a seed share its
/// init and experts, so seed-to-seed luck cancels in the difference): hypervolume difference and ratio,
/// expected-utility difference. The ratio is null when a seed's MORL hypervolume is 0.
/// </summary>
public sealed record SeedComparison
{
    [JsonPropertyName("hypervolume_difference")] public required SeedSpread HypervolumeDifference { get; init; }
    [JsonPropertyName("hypervolume_ratio")] public SeedSpread? HypervolumeRatio { get; init; }
    [JsonPropertyName("expected_utility_difference")] public required SeedSpread ExpectedUtilityDifference { get; init; }
}

/// <summary>The soups made in one mode (or with one merge method), compared as a front.</summary>
public sealed record SoupModeResult
{
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    /// <summary>The merge method (<c>linear</c> for the family's own modes) and its parameters, every default written out.</summary>
    [JsonPropertyName("method")] public string Method { get; init; } = "linear";
    [JsonPropertyName("parameters")] public System.Text.Json.Nodes.JsonObject? Parameters { get; init; }
    /// <summary>This front's hypervolume over the RS front's (the first mode's) and over MORL's; null where that one is 0.</summary>
    [JsonPropertyName("hypervolume_vs_rs")] public double? HypervolumeVsRs { get; init; }
    [JsonPropertyName("hypervolume_vs_morl")] public double? HypervolumeVsMorl { get; init; }
    /// <summary>The same ratios per training seed (null where a seed's denominator is 0, and in schema-1 files).</summary>
    [JsonPropertyName("hypervolume_vs_rs_seeds")] public SeedSpread? HypervolumeVsRsSeeds { get; init; }
    [JsonPropertyName("hypervolume_vs_morl_seeds")] public SeedSpread? HypervolumeVsMorlSeeds { get; init; }
    /// <summary>The <c>kind</c> of this mode's policies in <c>policies</c>.</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("front")] public required FrontResult Front { get; init; }
    [JsonPropertyName("lmc")] public required LmcResult Lmc { get; init; }
}

/// <summary>One evaluated policy.</summary>
public sealed record PolicyResult
{
    /// <summary><c>init</c>, <c>expert</c>, <c>soup</c> (the family's first soup mode), <c>soup-MODE</c> (its other modes), <c>ensemble</c> (the experts' output-space ensemble) or <c>morl</c>.</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("label")] public required string Label { get; init; }
    /// <summary>Soup or ensemble weights λ (for experts: one-hot; null for init and MORL).</summary>
    [JsonPropertyName("lambda")] public double[]? Lambda { get; init; }
    /// <summary>MORL preference μ over the rewards (null otherwise).</summary>
    [JsonPropertyName("mu")] public double[]? Mu { get; init; }
    /// <summary>Mean episode return per reward.</summary>
    [JsonPropertyName("mean")] public required double[] Mean { get; init; }
    [JsonPropertyName("low")] public required double[] Low { get; init; }
    [JsonPropertyName("high")] public required double[] High { get; init; }
    /// <summary>Mean per training seed, [seed][reward].</summary>
    [JsonPropertyName("per_seed_mean")] public required double[][] PerSeedMean { get; init; }
    /// <summary>Policy checkpoint of the first training seed, relative to the run folder.</summary>
    [JsonPropertyName("checkpoint")] public required string Checkpoint { get; init; }
    /// <summary>For soups, the soup mode they were made in.</summary>
    [JsonPropertyName("mode")] public string? Mode { get; init; }
    /// <summary>
    /// Mean reward minus the init's, per reward, with its paired 95% Student-t interval: every evaluation
    /// episode is paired with the init's episode of the same training seed, evaluation seed and index
    /// (the same prompt, noise or start state). Null for the init itself.
    /// </summary>
    [JsonPropertyName("gain")] public GainResult? Gain { get; init; }
    /// <summary>
    /// The family's measures beside the rewards (images: <c>recognised</c>, the share of images an independent
    /// classifier recognises as their prompt), each the mean over every episode of every training seed with its
    /// 95% Student-t interval. Null when the family measures nothing more (and in files written before measures).
    /// </summary>
    [JsonPropertyName("measures")] public IReadOnlyDictionary<string, MeasureResult>? Measures { get; init; }
    /// <summary>What computing the policy's outputs cost in its evaluations, over the training seeds whose evaluations counted it (null when none did: evaluations made before it was measured).</summary>
    [JsonPropertyName("inference")] public InferenceResult? Inference { get; init; }
}

/// <summary>A policy's inference cost per evaluation sample: network evaluations of one input row (an exact count; its time is in timings.json).</summary>
public sealed record InferenceResult
{
    [JsonPropertyName("forward_passes_per_sample")] public required double ForwardPassesPerSample { get; init; }
    [JsonPropertyName("samples")] public required int Samples { get; init; }
}

/// <summary>One measure of a policy: its mean over episodes (all training and evaluation seeds) and 95% interval (null from one episode).</summary>
public sealed record MeasureResult
{
    [JsonPropertyName("mean")] public required double Mean { get; init; }
    [JsonPropertyName("low")] public double? Low { get; init; }
    [JsonPropertyName("high")] public double? High { get; init; }

    /// <summary>A mean and its interval, the interval left out (null) when one sample gives none.</summary>
    public static MeasureResult Of(MeanInterval i) =>
        i.Count < 2 ? new MeasureResult { Mean = i.Mean } : new MeasureResult { Mean = i.Mean, Low = i.Low, High = i.High };
}

/// <summary>A policy's paired gain over the shared init, per reward.</summary>
public sealed record GainResult
{
    [JsonPropertyName("mean")] public required double[] Mean { get; init; }
    [JsonPropertyName("low")] public required double[] Low { get; init; }
    [JsonPropertyName("high")] public required double[] High { get; init; }
}

public sealed record FrontResult
{
    /// <summary>Labels of the non-dominated policies of this family.</summary>
    [JsonPropertyName("front")] public required IReadOnlyList<string> Front { get; init; }
    [JsonPropertyName("hypervolume")] public required double Hypervolume { get; init; }
    [JsonPropertyName("expected_utility")] public required double ExpectedUtility { get; init; }
    [JsonPropertyName("eu_divisions")] public required int EuDivisions { get; init; }
    /// <summary>Which policies form the family's candidate set.</summary>
    [JsonPropertyName("members")] public required string Members { get; init; }
    /// <summary>
    /// The hypervolume and expected utility of each training seed's own front (its policies' mean rewards on
    /// that seed, the same reference point); <see cref="Hypervolume"/> is the front of the seed-averaged
    /// rewards, which is not the mean of these. Null in schema-1 files.
    /// </summary>
    [JsonPropertyName("hypervolume_seeds")] public SeedSpread? HypervolumeSeeds { get; init; }
    [JsonPropertyName("expected_utility_seeds")] public SeedSpread? ExpectedUtilitySeeds { get; init; }
}

public sealed record CostResult
{
    /// <summary>What the budgets count (<c>environment steps</c>, <c>responses</c>, …).</summary>
    [JsonPropertyName("unit")] public string Unit { get; init; } = "environment steps";
    [JsonPropertyName("pretrain_steps")] public required long PretrainSteps { get; init; }
    [JsonPropertyName("steps_per_training")] public required long StepsPerTraining { get; init; }
    [JsonPropertyName("rs_trainings")] public required int RsTrainings { get; init; }
    [JsonPropertyName("morl_trainings")] public required int MorlTrainings { get; init; }
    /// <summary>Budget spent for the RS front (init + N experts), per training seed, in <see cref="Unit"/>.</summary>
    [JsonPropertyName("rs_steps")] public required long RsSteps { get; init; }
    /// <summary>Budget spent for the MORL front (init + one training per preference, the experts being its endpoints), per training seed.</summary>
    [JsonPropertyName("morl_steps")] public required long MorlSteps { get; init; }
}

public sealed record LmcResult
{
    /// <summary>Per soup (in policies order, soups only), per reward: reward − chord.</summary>
    [JsonPropertyName("gaps")] public required IReadOnlyList<LmcPoint> Gaps { get; init; }
    [JsonPropertyName("min")] public required double[] Min { get; init; }
    [JsonPropertyName("mean")] public required double[] Mean { get; init; }
    [JsonPropertyName("max")] public required double[] Max { get; init; }
}

public sealed record LmcPoint
{
    [JsonPropertyName("label")] public required string Label { get; init; }
    [JsonPropertyName("lambda")] public required double[] Lambda { get; init; }
    [JsonPropertyName("gap")] public required double[] Gap { get; init; }
}
