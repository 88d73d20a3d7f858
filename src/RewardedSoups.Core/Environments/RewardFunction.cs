using System.Globalization;

namespace RewardedSoups.Environments;

/// <summary>
/// A named reward: a weighted sum of an environment's reward terms, r = Σₖ wₖ termₖ. The paper's
/// locomotion pair is <c>risky = forward_velocity</c> and
/// <c>cautious = forward_velocity − 1·control_cost</c>. A MORL scalarisation Σᵢ μᵢ Rᵢ of named
/// rewards is again a <see cref="RewardFunction"/> (<see cref="Scalarise"/>).
/// </summary>
public sealed record RewardFunction(string Name, IReadOnlyDictionary<string, double> Weights)
{
    /// <summary>Weights aligned with <paramref name="terms"/> (the environment's order); an unknown term is an error listing the valid ones.</summary>
    public float[] Resolve(IReadOnlyList<string> terms)
    {
        var aligned = new float[terms.Count];
        foreach ((string term, double weight) in Weights)
        {
            int i = IndexOf(terms, term);
            if (i < 0)
                throw new SoupInputException($"reward '{Name}': unknown reward term '{term}'; this task has: {string.Join(", ", terms)}");
            if (!double.IsFinite(weight))
                throw new SoupInputException($"reward '{Name}': weight of '{term}' is {weight.ToString(CultureInfo.InvariantCulture)}, not a finite number");
            aligned[i] = (float)weight;
        }
        return aligned;
    }

    /// <summary>r = Σᵢ μᵢ Rᵢ: the scalarised reward the MORL baseline trains on.</summary>
    public static RewardFunction Scalarise(IReadOnlyList<RewardFunction> rewards, IReadOnlyList<double> mu)
    {
        if (rewards.Count != mu.Count)
            throw new SoupInputException($"preference has {mu.Count} {(mu.Count == 1 ? "weight" : "weights")} for {rewards.Count} rewards");
        var weights = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < rewards.Count; i++)
            foreach ((string term, double w) in rewards[i].Weights)
                weights[term] = weights.GetValueOrDefault(term) + mu[i] * w;
        string name = "morl(" + string.Join(",", mu.Select(m => m.ToString("G4", CultureInfo.InvariantCulture))) + ")";
        return new RewardFunction(name, weights);
    }

    /// <summary>
    /// Parses <c>term=weight,term=weight</c> (e.g. <c>forward_velocity=1,control_cost=-1</c>); a bare
    /// term means weight 1.
    /// </summary>
    public static RewardFunction Parse(string name, string text)
    {
        var weights = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            double w = 1;
            if (kv.Length == 2 && !double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out w))
                throw new SoupInputException($"reward '{name}': weight '{kv[1]}' of term '{kv[0]}' is not a number");
            if (!weights.TryAdd(kv[0], w))
                throw new SoupInputException($"reward '{name}': term '{kv[0]}' appears twice");
        }
        if (weights.Count == 0) throw new SoupInputException($"reward '{name}': no terms in '{text}'");
        return new RewardFunction(name, weights);
    }

    private static int IndexOf(IReadOnlyList<string> terms, string term)
    {
        for (int i = 0; i < terms.Count; i++)
            if (terms[i] == term) return i;
        return -1;
    }
}
