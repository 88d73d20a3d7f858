using System.Globalization;
using RewardedSoups.Soup;

namespace RewardedSoups.App;

/// <summary>
/// A λ as the app computes, caches and answers it: the request's weights rounded to the precision
/// the run page shows (<see cref="Decimals"/>: the λ slider's step, and app.js's <c>lambdaText</c>),
/// in whole hundredths that sum to exactly 100. λ that look the same on the page are therefore one
/// soup and one cache entry: <c>0,1</c>, <c>-0,1</c>, <c>1e-320,1</c> and <c>0.000001,0.999999</c>
/// are all (0, 1).
/// </summary>
public sealed class SoupLambda
{
    /// <summary>Decimals of λ the page shows and the app computes.</summary>
    public const int Decimals = 2;

    /// <summary>How far from 1 the request's weights may sum (as <c>soup merge</c> allows).</summary>
    public const double SumTolerance = SoupWeights.SumTolerance;

    private const int Units = 100; // 10^Decimals

    private readonly int[] _units;

    private SoupLambda(int[] units) => _units = units;

    /// <summary>The weights, each a whole number of hundredths (+0, never −0), as the soups inside the program take them.</summary>
    public SoupWeights Weights => SoupWeights.Of(_units.Select(u => u / (double)Units));

    /// <summary>A stable text of λ for cache keys: the hundredths, e.g. <c>37,63</c>.</summary>
    public string Key => string.Join(",", _units.Select(u => u.ToString(CultureInfo.InvariantCulture)));

    /// <summary>
    /// Parses λ strictly (<paramref name="experts"/> comma-separated finite, non-negative numbers summing
    /// to 1 ± <see cref="SumTolerance"/>) and rounds it. Returns a one-line error message, or null.
    /// </summary>
    public static string? TryParse(string? text, int experts, out SoupLambda lambda)
    {
        lambda = new SoupLambda([]);
        if (string.IsNullOrWhiteSpace(text)) return $"lambda is required: {experts} comma-separated weights, one per expert";
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != experts) return $"lambda has {parts.Length} {(parts.Length == 1 ? "weight" : "weights")}; this run has {experts} experts";
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                return $"lambda[{i}] = '{AppServer.Truncate(parts[i], 32)}' is not a finite number";
            if (values[i] < 0) return $"lambda[{i}] = {AppServer.Truncate(values[i].ToString(CultureInfo.InvariantCulture), 32)} is negative";
        }
        double sum = values.Sum();
        if (Math.Abs(sum - 1) > SumTolerance) return $"lambda sums to {sum.ToString(CultureInfo.InvariantCulture)}, not 1";
        lambda = new SoupLambda(Round(values, sum));
        return null;
    }

    /// <summary>
    /// Hundredths summing to 100 (largest remainder): each weight's share, floored, and the hundredths
    /// left over given to the largest remainders (the lower index first among equals).
    /// </summary>
    private static int[] Round(double[] values, double sum)
    {
        // Rounded to 9 decimals first, so that 0.29 × 100 = 28.999999999999996 counts as 29.
        double[] scaled = values.Select(v => Math.Round(v / sum * Units, 9)).ToArray();
        int[] units = scaled.Select(s => (int)Math.Floor(s)).ToArray();
        int left = Units - units.Sum();
        foreach (int i in Enumerable.Range(0, values.Length).OrderByDescending(i => scaled[i] - units[i]).ThenBy(i => i).Take(left))
            units[i]++;
        return units;
    }
}
