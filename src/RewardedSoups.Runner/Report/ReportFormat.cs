using System.Globalization;

namespace RewardedSoups.Runner.Report;

/// <summary>
/// How the report writes numbers: always the invariant culture (a report made on a French machine
/// must not say "1,5"), a precision that suits returns from −1000s to 0.001s, and "n/a" for NaN
/// (an interval from a single episode).
/// </summary>
public static class ReportFormat
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>About four significant digits without exponents in the range returns live in (1e-3 to 1e12), trailing zeros
    /// dropped, thousands grouped from 10 000.</summary>
    public static string Number(double x)
    {
        if (double.IsNaN(x)) return "n/a";
        if (double.IsPositiveInfinity(x)) return "inf";
        if (double.IsNegativeInfinity(x)) return "-inf";
        double a = Math.Abs(x);
        if (a == 0) return "0";
        if (a >= 1e12 || a < 1e-3) return x.ToString("0.###e+0", Invariant);
        // Thousands grouped by commas, as counts (Steps), error messages and the app write them; inside an interval
        // the separator is ", " ("[12,345, 13,456]").
        if (a >= 10_000) return x.ToString("#,0", Invariant);
        if (a >= 1000) return x.ToString("0", Invariant);
        if (a >= 100) return x.ToString("0.#", Invariant);
        if (a >= 10) return x.ToString("0.##", Invariant);
        if (a >= 1) return x.ToString("0.###", Invariant);
        return x.ToString("0.####", Invariant);
    }

    /// <summary>
    /// <paramref name="a"/> and <paramref name="b"/> written so that different numbers never read the same: as
    /// <see cref="Number"/> does when that tells them apart, otherwise with as many significant digits as it takes
    /// ("176.31 vs 176.34", not "176.3 vs 176.3"); equal numbers stay equal.
    /// </summary>
    public static (string A, string B) Distinct(double a, double b)
    {
        (string sa, string sb) = (Number(a), Number(b));
        if (sa != sb || a.Equals(b)) return (sa, sb);
        for (int digits = 5; digits <= 17; digits++)
        {
            (sa, sb) = (a.ToString("G" + digits, Invariant), b.ToString("G" + digits, Invariant));
            if (sa != sb) break;
        }
        return (sa, sb);
    }

    /// <summary><c>mean [low, high]</c>; a NaN interval (one episode) becomes <c>mean [no interval]</c>.</summary>
    /// <summary>A mean and its interval as results.json holds them (no interval from one sample).</summary>
    public static string MeanInterval(MeasureResult m) => MeanInterval(m.Mean, m.Low ?? double.NaN, m.High ?? double.NaN);

    public static string MeanInterval(double mean, double low, double high) =>
        double.IsNaN(low) || double.IsNaN(high)
            ? $"{Number(mean)} [no interval]"
            : $"{Number(mean)} [{Number(low)}, {Number(high)}]";

    /// <summary>A ratio as a percentage (0.831 → "83.1%").</summary>
    public static string Percent(double ratio) =>
        double.IsFinite(ratio) ? (ratio * 100).ToString("0.#", Invariant) + "%" : "n/a";

    /// <summary>Environment steps with thousands separators (invariant: "1,048,576").</summary>
    public static string Steps(long steps) => steps.ToString("N0", Invariant);

    /// <summary>A weight vector such as λ or μ: <c>(0.25, 0.75)</c>.</summary>
    public static string Weights(IReadOnlyList<double> weights) =>
        "(" + string.Join(", ", weights.Select(w => w.ToString("0.###", Invariant))) + ")";
}
