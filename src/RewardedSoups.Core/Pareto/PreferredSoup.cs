namespace RewardedSoups.Pareto;

/// <summary>
/// From a user's preference μ over rewards to the soup that serves it best: λ*(μ) = argmax over the evaluated
/// λ of the utility μ · R(θ(λ)) — the linear utility the expected-utility metric averages — chosen on
/// <em>validation</em> returns and reported on disjoint <em>test</em> returns, so that the choice's own luck
/// is not counted as its gain. Rewarded soups' default answer, λ = μ, is right only when the rewards share
/// one scale and the front is straight; λ*(μ) is what the evaluations say.
/// </summary>
public static class PreferredSoup
{
    /// <summary>Per-episode utilities μ · r of returns <c>[reward][episode]</c>.</summary>
    /// <exception cref="ArgumentException">μ and the returns disagree in length, ragged returns, or μ off the simplex.</exception>
    public static double[] Utilities(IReadOnlyList<double> mu, IReadOnlyList<double[]> returns)
    {
        RequirePreference(mu, returns.Count);
        int episodes = returns[0].Length;
        if (returns.Any(r => r.Length != episodes)) throw new ArgumentException("returns are ragged: every reward needs one value per episode", nameof(returns));
        var u = new double[episodes];
        for (int i = 0; i < mu.Count; i++)
            for (int e = 0; e < episodes; e++) u[e] += mu[i] * returns[i][e];
        return u;
    }

    /// <summary>
    /// The index of the candidate with the highest mean validation utility under μ; ties (equal means) go to the
    /// candidate whose λ is nearest μ (L1), then to the first. Candidates are <c>(λ, validation returns [reward][episode])</c>.
    /// </summary>
    public static int Choose(IReadOnlyList<double> mu, IReadOnlyList<(double[] Lambda, double[][] Validation)> candidates)
    {
        if (candidates.Count == 0) throw new ArgumentException("no candidate soups to choose from", nameof(candidates));
        int best = -1;
        double bestUtility = double.NegativeInfinity, bestDistance = double.PositiveInfinity;
        for (int k = 0; k < candidates.Count; k++)
        {
            if (candidates[k].Lambda.Length != mu.Count) throw new ArgumentException($"candidate {k}'s λ has {candidates[k].Lambda.Length} weights, μ {mu.Count}", nameof(candidates));
            double utility = Utilities(mu, candidates[k].Validation).Average();
            if (!double.IsFinite(utility)) throw new ArgumentException($"candidate {k}'s validation utility is {utility}", nameof(candidates));
            double distance = candidates[k].Lambda.Select((l, i) => Math.Abs(l - mu[i])).Sum();
            if (utility > bestUtility || (utility == bestUtility && distance < bestDistance))
                (best, bestUtility, bestDistance) = (k, utility, distance);
        }
        return best;
    }

    /// <summary>
    /// Splits one evaluation's returns <c>[reward][episode]</c> into validation (the first ⌊m/2⌋ of its m episodes) and
    /// test (the rest). Evaluations list their episodes seed by seed, so with an even number of evaluation seeds the
    /// halves are whole seeds (two seeds: the first validates, the second tests).
    /// </summary>
    public static (double[][] Validation, double[][] Test) Split(IReadOnlyList<double[]> returns)
    {
        int m = returns.Count == 0 ? 0 : returns[0].Length;
        if (m < 2) throw new ArgumentException($"{m} episode(s): a validation and a test half need at least 2", nameof(returns));
        int half = m / 2;
        return (returns.Select(r => r[..half]).ToArray(), returns.Select(r => r[half..]).ToArray());
    }

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> are the same weights up to rounding of a written grid.</summary>
    public static bool SameWeights(IReadOnlyList<double> a, IReadOnlyList<double> b) =>
        a.Count == b.Count && a.Zip(b).All(p => Math.Abs(p.First - p.Second) < 1e-9);

    private static void RequirePreference(IReadOnlyList<double> mu, int rewards)
    {
        if (mu.Count != rewards) throw new ArgumentException($"μ has {mu.Count} weights for {rewards} rewards", nameof(mu));
        if (mu.Any(x => !double.IsFinite(x) || x < 0)) throw new ArgumentException("μ's weights must be finite and non-negative", nameof(mu));
        if (Math.Abs(mu.Sum() - 1) > 1e-6) throw new ArgumentException($"μ's weights sum to {mu.Sum()}, not 1", nameof(mu));
    }
}
