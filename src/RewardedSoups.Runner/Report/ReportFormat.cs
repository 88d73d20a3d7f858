using System.Globalization;

namespace RewardedSoups.Runner.Report;

/// <summary>
/// How the report writes numbers: always the invariant culture (a report made on a French machine
/// must not say "1,5"), a precision that suits returns from −1000s to 0.001s, and "n/a" for NaN
/// (an interval from a single episode).
/// </summary>
internal static class ReportFormat
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>About four significant digits without exponents in the range returns live in; trailing zeros dropped.</summary>
    public static string Number(double x)
    {
        if (double.IsNaN(x)) return "n/a";
        if (double.IsPositiveInfinity(x)) return "inf";
        if (double.IsNegativeInfinity(x)) return "-inf";
        double a = Math.Abs(x);
        if (a == 0) return "0";
        if (a >= 1e7 || a < 1e-3) return x.ToString("0.###e+0", Invariant);
        if (a >= 1000) return x.ToString("0", Invariant);
        if (a >= 100) return x.ToString("0.#", Invariant);
        if (a >= 1) return x.ToString("0.###", Invariant);
        return x.ToString("0.####", Invariant);
    }

    /// <summary><c>mean [low, high]</c>; a NaN interval (one episode) becomes <c>mean [no interval]</c>.</summary>
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
