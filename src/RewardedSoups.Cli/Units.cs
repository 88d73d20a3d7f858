using System.Globalization;
using System.Text.RegularExpressions;

namespace RewardedSoups.Cli;

/// <summary>Byte sizes as people write them: <c>5GB</c> (10⁹, as Hugging Face uses), <c>2GiB</c> (2³⁰), <c>1048576</c>.</summary>
public static partial class Units
{
    public static long ParseBytes(string text, string what)
    {
        Match m = SizePattern().Match(text.Trim());
        if (!m.Success)
            throw new SoupInputException($"{what}: '{text}' is not a size (examples: 5GB, 500MB, 2GiB, 1048576)");
        double number = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        double scale = m.Groups[2].Value.ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "KIB" => 1L << 10,
            "MIB" => 1L << 20,
            "GIB" => 1L << 30,
            "TIB" => 1L << 40,
            _ => throw new SoupInputException($"{what}: unknown unit in '{text}'"),
        };
        double bytes = number * scale;
        if (bytes < 1 || bytes > long.MaxValue)
            throw new SoupInputException($"{what}: '{text}' is out of range");
        return (long)bytes;
    }

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):F1} KiB",
        _ => $"{bytes} B",
    };

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$")]
    private static partial Regex SizePattern();
}
