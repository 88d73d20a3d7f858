using System.Globalization;

namespace RewardedSoups.Soup;

/// <summary>
/// Weights λ of a soup θ = Σ λᵢ θᵢ. A rewarded soup lives on the simplex: finite, non-negative, summing
/// to 1 within <see cref="SumTolerance"/>. Extrapolation (task-arithmetic style: negative weights,
/// any sum) is accepted only when asked for, and the output says so.
/// </summary>
public static class SoupWeights
{
    public const double SumTolerance = 1e-6;

    /// <summary>Uniform weights 1/n.</summary>
    public static double[] Uniform(int n) => Enumerable.Repeat(1.0 / n, n).ToArray();

    /// <summary>Parses <c>w1,w2,...</c> (invariant culture, e.g. <c>0.3,0.7</c>).</summary>
    public static double[] Parse(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var weights = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out weights[i]))
                throw new SoupInputException($"weights: '{parts[i]}' (weight {i + 1}) is not a number");
        }
        return weights;
    }

    /// <summary>Checks weights for <paramref name="inputs"/> inputs; throws with one line naming the offending weight.</summary>
    public static void Validate(IReadOnlyList<double> weights, int inputs, bool allowExtrapolation)
    {
        if (weights.Count != inputs)
            throw new SoupInputException($"weights: {weights.Count} given for {inputs} inputs");
        for (int i = 0; i < weights.Count; i++)
        {
            if (!double.IsFinite(weights[i]))
                throw new SoupInputException($"weights: weight {i + 1} is {Format(weights[i])}; weights must be finite");
            if (!allowExtrapolation && weights[i] < 0)
                throw new SoupInputException($"weights: weight {i + 1} is {Format(weights[i])}; soup weights must be non-negative (--allow-extrapolation accepts any finite weights)");
        }
        if (!allowExtrapolation)
        {
            double sum = weights.Sum();
            if (Math.Abs(sum - 1) > SumTolerance)
                throw new SoupInputException($"weights: sum to {Format(sum)}, not 1 (tolerance {SumTolerance:g}; --allow-extrapolation accepts any finite weights)");
        }
    }

    /// <summary>True when the weights leave the simplex (some negative, or a sum other than 1).</summary>
    public static bool Extrapolates(IReadOnlyList<double> weights) =>
        weights.Any(w => w < 0) || Math.Abs(weights.Sum() - 1) > SumTolerance;

    public static string Format(double w) => w.ToString("R", CultureInfo.InvariantCulture);
}
