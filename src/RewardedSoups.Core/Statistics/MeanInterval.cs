using MathNet.Numerics.Distributions;

namespace RewardedSoups.Statistics;

/// <summary>A sample mean with its two-sided Student-t confidence interval.</summary>
/// <param name="Mean">Sample mean.</param>
/// <param name="HalfWidth">Half-width of the interval (NaN with fewer than two samples).</param>
/// <param name="Count">Sample size.</param>
/// <param name="StdDev">Sample standard deviation (n − 1 in the denominator).</param>
public sealed record MeanInterval(double Mean, double HalfWidth, int Count, double StdDev)
{
    public double Low => Mean - HalfWidth;

    public double High => Mean + HalfWidth;

    /// <summary>True when the two intervals share no point (a claim of a difference at that level).</summary>
    public bool DisjointFrom(MeanInterval other) => Low > other.High || High < other.Low;

    /// <summary>Mean ± t₀.₉₇₅,ₙ₋₁ · s/√n by default (95%).</summary>
    public static MeanInterval Of(IReadOnlyList<double> samples, double level = 0.95)
    {
        int n = samples.Count;
        if (n == 0) return new MeanInterval(double.NaN, double.NaN, 0, double.NaN);
        double mean = samples.Average();
        if (n == 1) return new MeanInterval(mean, double.NaN, 1, double.NaN);
        double sd = Math.Sqrt(samples.Sum(x => (x - mean) * (x - mean)) / (n - 1));
        double t = StudentT.InvCDF(0, 1, n - 1, 1 - (1 - level) / 2);
        return new MeanInterval(mean, t * sd / Math.Sqrt(n), n, sd);
    }

    /// <summary>
    /// The paired interval of the mean difference a − b, sample by sample: right when a[i] and b[i] were
    /// measured under the same conditions (the same prompt, noise seed or episode seed), and then much
    /// narrower than comparing the two means' own intervals, since what the condition decides cancels.
    /// </summary>
    public static MeanInterval OfDifferences(IReadOnlyList<double> a, IReadOnlyList<double> b, double level = 0.95)
    {
        if (a.Count != b.Count) throw new ArgumentException($"{a.Count} samples paired with {b.Count}", nameof(b));
        return Of(a.Select((x, i) => x - b[i]).ToList(), level);
    }
}
