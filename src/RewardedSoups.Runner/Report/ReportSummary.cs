namespace RewardedSoups.Runner.Report;

/// <summary>One expert against the shared init on the expert's own reward.</summary>
/// <param name="Reward">Index of the reward (and of the expert, experts being in reward order).</param>
internal sealed record ExpertComparison(int Reward, string RewardName, PolicyResult Expert, PolicyResult? Init)
{
    /// <summary>
    /// Whether the two intervals share no point: null when there is no init to compare with or when
    /// either interval is NaN (a single evaluation episode), since no claim can be made then.
    /// </summary>
    public bool? Disjoint
    {
        get
        {
            if (Init is null) return null;
            double[] bounds = [Expert.Low[Reward], Expert.High[Reward], Init.Low[Reward], Init.High[Reward]];
            if (bounds.Any(double.IsNaN)) return null;
            return Expert.Low[Reward] > Init.High[Reward] || Expert.High[Reward] < Init.Low[Reward];
        }
    }

    /// <summary>Expert mean minus init mean on this reward (NaN without an init).</summary>
    public double Improvement => Init is null ? double.NaN : Expert.Mean[Reward] - Init.Mean[Reward];

    /// <summary>The paired gain over the init on this reward ("+0.036 [+0.020, +0.052], above 0"); null when the results have none.</summary>
    public string? PairedGain
    {
        get
        {
            if (Expert.Gain is not GainResult g || double.IsNaN(g.Low[Reward])) return null;
            string side = g.Low[Reward] > 0 ? "above 0" : g.High[Reward] < 0 ? "below 0" : "contains 0";
            return $"paired gain {Signed(g.Mean[Reward])} [{Signed(g.Low[Reward])}, {Signed(g.High[Reward])}], {side}";
        }
    }

    private static string Signed(double v) => (v >= 0 ? "+" : "") + ReportFormat.Number(v);
}

/// <summary>
/// The facts the HTML report and the CLI summary both state, computed once from
/// <see cref="ExperimentResults"/> so that the two never disagree.
/// </summary>
internal sealed record ReportSummary(
    ExperimentResults Results,
    PolicyResult? Init,
    IReadOnlyList<PolicyResult?> ExpertsByReward,
    IReadOnlyList<ExpertComparison> Experts,
    IReadOnlyList<PolicyResult> Soups,
    IReadOnlyList<PolicyResult> Morl)
{
    /// <summary>RS hypervolume over MORL hypervolume (NaN when MORL's is 0: nothing to compare with).</summary>
    public required double HypervolumeRatio { get; init; }

    /// <summary>RS env steps over MORL env steps, per training seed.</summary>
    public required double CostRatio { get; init; }

    public static ReportSummary Of(ExperimentResults results)
    {
        Validate(results);
        int rewards = results.Rewards.Count;
        PolicyResult? init = results.Policies.FirstOrDefault(p => p.Kind == "init");

        // Expert i is the policy whose one-hot λ puts its weight on i (λ follows the reward order).
        var expertsByReward = new PolicyResult?[rewards];
        foreach (PolicyResult expert in results.Policies.Where(p => p.Kind == "expert"))
            expertsByReward[ArgMax(expert.Lambda!)] = expert;
        var comparisons = new List<ExpertComparison>();
        for (int i = 0; i < rewards; i++)
        {
            if (expertsByReward[i] is PolicyResult expert)
                comparisons.Add(new ExpertComparison(i, results.Rewards[i], expert, init));
        }

        double morlHv = results.MorlFront.Hypervolume;
        return new ReportSummary(
            results,
            init,
            expertsByReward,
            comparisons,
            results.Policies.Where(p => p.Kind == "soup").ToList(),
            results.Policies.Where(p => p.Kind == "morl").ToList())
        {
            HypervolumeRatio = morlHv > 0 ? results.RsFront.Hypervolume / morlHv : double.NaN,
            CostRatio = results.Cost.MorlSteps > 0 ? (double)results.Cost.RsSteps / results.Cost.MorlSteps : double.NaN,
        };
    }

    /// <summary>
    /// One honest paragraph comparing the fronts: which one is ahead by hypervolume and by expected
    /// utility, at what cost, and what the numbers do not say.
    /// </summary>
    public string Verdict()
    {
        ExperimentResults results = Results;
        double rsHv = results.RsFront.Hypervolume, morlHv = results.MorlFront.Hypervolume;
        var sentences = new List<string>();
        if (double.IsNaN(HypervolumeRatio))
        {
            sentences.Add($"MORL's hypervolume is {ReportFormat.Number(morlHv)}: no MORL policy improves on the reference point in every reward, so the hypervolume ratio is undefined (RS: {ReportFormat.Number(rsHv)}).");
        }
        else
        {
            sentences.Add($"RS reaches {ReportFormat.Percent(HypervolumeRatio)} of MORL's hypervolume at {ReportFormat.Percent(CostRatio)} of its cost in {results.Cost.Unit}.");
            if (rsHv < morlHv)
                sentences.Add("MORL's front is ahead by hypervolume" + (CostRatio < 1 ? "; RS is the cheaper front, not the better one." : "."));
            else if (rsHv > morlHv)
                sentences.Add("RS's front is ahead of MORL's by hypervolume" + (CostRatio < 1 ? ", and it is also the cheaper one." : "."));
            else
                sentences.Add("Both fronts have the same hypervolume.");
        }

        double rsEu = results.RsFront.ExpectedUtility, morlEu = results.MorlFront.ExpectedUtility;
        string euLeader = rsEu > morlEu ? "RS is ahead" : rsEu < morlEu ? "MORL is ahead" : "they are equal";
        (string rsText, string morlText) = ReportFormat.Distinct(rsEu, morlEu);
        sentences.Add($"By expected utility {euLeader} (RS {rsText} vs MORL {morlText}).");
        sentences.Add(SeedSentence(results));
        return string.Join(" ", sentences);
    }

    /// <summary>
    /// The experts' output-space ensembles against their weight soups, in one paragraph: hypervolumes, how often the
    /// ensemble beats or loses to the soup of the same λ beyond noise, and what it costs at inference. Empty without ensembles.
    /// </summary>
    public string EnsembleSentence()
    {
        if (Results.Ensemble is not EnsembleResult e) return "";
        int pairs = Results.Policies.Count(p => p.Kind == "ensemble" && Soups.Any(s => Pareto.PreferredSoup.SameWeights(s.Lambda!, p.Lambda!)));
        var sentences = new List<string>
        {
            $"Output-space ensembles of the same experts reach {ReportFormat.Percent(e.HypervolumeVsRs ?? double.NaN)} of RS's hypervolume and {ReportFormat.Percent(e.HypervolumeVsMorl ?? double.NaN)} of MORL's, " +
            $"expected utility {ReportFormat.Number(e.Front.ExpectedUtility)} vs RS {ReportFormat.Number(Results.RsFront.ExpectedUtility)}, at RS's training cost.",
            "Against the soup of the same λ (" + pairs + " λ, paired episode by episode): " + string.Join("; ", Results.Rewards.Select((r, i) =>
                $"{r} better beyond noise at {e.BeatsSoup[i]}, worse at {e.LosesToSoup[i]}")) + ".",
        };
        if (e.VsRs.HypervolumeDifference.Low is not null)
            sentences.Add($"Over {Results.TrainingSeeds.Count} training seeds, ensemble − RS hypervolume {Interval(e.VsRs.HypervolumeDifference)}, expected utility {Interval(e.VsRs.ExpectedUtilityDifference)}.");
        if (e.Inference is InferenceComparison inf)
            sentences.Add($"Inference: {ReportFormat.Number(inf.ForwardPassRatio)}× the forward passes of a soup"
                + (Results.Timings?.EnsembleTimeRatio is double ratio
                    ? $" and {ReportFormat.Number(ratio)}× its time per sample ({ReportFormat.Number(Results.Timings.EnsembleSecondsPerSample!.Value)} s vs {ReportFormat.Number(Results.Timings.SoupSecondsPerSample!.Value)} s of the policy's own computation, measured: timings.json)."
                    : "."));
        return string.Join(" ", sentences);
    }

    /// <summary>What the spread of training seeds says about RS vs MORL: a paired interval per measure, or why there is none.</summary>
    private static string SeedSentence(ExperimentResults results)
    {
        int seeds = results.TrainingSeeds.Count;
        if (results.RsVsMorl is not SeedComparison c)
            return $"Both measures are computed from mean returns ({seeds} training seed(s)) and carry no interval, so a small difference is not evidence of a real one.";
        if (seeds < 2)
            return "One training seed: no interval between seeds, so a small difference between the fronts is not evidence of a real one.";
        string Beyond(SeedSpread d) => d.Excludes(0) == true ? "beyond the spread of seeds" : "within the spread of seeds";
        string ratio = c.HypervolumeRatio is SeedSpread r
            ? $", RS/MORL ratio {ReportFormat.Percent(r.Mean)} [{ReportFormat.Percent(r.Low!.Value)}, {ReportFormat.Percent(r.High!.Value)}]"
            : " (a seed's MORL hypervolume is 0: no ratio)";
        return $"Over {seeds} training seeds, seed against seed (95% Student-t): RS − MORL hypervolume {Interval(c.HypervolumeDifference)}, " +
               $"{Beyond(c.HypervolumeDifference)}{ratio}; expected utility RS − MORL {Interval(c.ExpectedUtilityDifference)}, {Beyond(c.ExpectedUtilityDifference)}.";
    }

    /// <summary>"mean [low, high]" of a spread with an interval.</summary>
    public static string Interval(SeedSpread s) =>
        s.Low is double low && s.High is double high
            ? $"{ReportFormat.Number(s.Mean)} [{ReportFormat.Number(low)}, {ReportFormat.Number(high)}]"
            : $"{ReportFormat.Number(s.Mean)} (one seed: no interval)";

    /// <summary>
    /// Checks what the report relies on, once, naming the policy and field at fault: every vector has
    /// one entry per reward, means are finite, experts and soups have λ, MORL policies have μ.
    /// </summary>
    private static void Validate(ExperimentResults results)
    {
        int rewards = results.Rewards.Count;
        if (rewards < 2)
            throw new ArgumentException($"results '{results.Name}': {rewards} reward(s); a Pareto front needs at least 2", nameof(results));
        if (results.ReferencePoint.Length != rewards)
            throw new ArgumentException($"results '{results.Name}': reference_point has {results.ReferencePoint.Length} values for {rewards} rewards", nameof(results));
        if (results.Lmc.Min.Length != rewards || results.Lmc.Mean.Length != rewards)
            throw new ArgumentException($"results '{results.Name}': lmc min/mean must have {rewards} values (one per reward)", nameof(results));
        foreach (PolicyResult p in results.Policies)
        {
            foreach ((string field, double[]? values) in new[] { ("mean", p.Mean), ("low", p.Low), ("high", p.High) })
            {
                if (values.Length != rewards)
                    throw new ArgumentException($"policy '{p.Label}': {field} has {values.Length} values for {rewards} rewards", nameof(results));
            }
            for (int r = 0; r < rewards; r++)
            {
                if (!double.IsFinite(p.Mean[r]))
                    throw new ArgumentException($"policy '{p.Label}': mean of reward '{results.Rewards[r]}' is {p.Mean[r]}", nameof(results));
            }
            bool needsLambda = p.Kind is "expert" or "soup" or "ensemble";
            if (needsLambda && (p.Lambda is null || p.Lambda.Length != rewards))
                throw new ArgumentException($"policy '{p.Label}' ({p.Kind}): lambda must have {rewards} weights (one per expert)", nameof(results));
            if (p.Kind == "morl" && p.Mu is not null && p.Mu.Length != rewards)
                throw new ArgumentException($"policy '{p.Label}' (morl): mu has {p.Mu.Length} weights for {rewards} rewards", nameof(results));
        }
    }

    private static int ArgMax(double[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best]) best = i;
        }
        return best;
    }
}
