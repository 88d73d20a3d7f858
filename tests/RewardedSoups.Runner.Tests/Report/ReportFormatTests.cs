using RewardedSoups.Runner.Report;

namespace RewardedSoups.Tests.Report;

/// <summary>Numbers as the report and the CLI summary write them: four significant digits, thousands grouped, and two
/// different numbers never shown the same.</summary>
public sealed class ReportFormatTests
{
    [Theory]
    [InlineData(2811534.217, "2,811,534")]
    [InlineData(-12345.6, "-12,346")]
    [InlineData(1251.404, "1251")]
    [InlineData(126.34, "126.3")]
    [InlineData(70.141, "70.14")]
    [InlineData(3.14159, "3.142")]
    [InlineData(0.0312345, "0.0312")]
    [InlineData(7.97e-4, "7.97e-4")]
    [InlineData(0, "0")]
    [InlineData(double.NaN, "n/a")]
    public void Number_FourSignificantDigitsThousandsGrouped(double x, string expected) =>
        Assert.Equal(expected, ReportFormat.Number(x));

    [Theory]
    [InlineData(176.31, 176.34, "176.31", "176.34")]
    [InlineData(176.3, 176.3, "176.3", "176.3")]
    [InlineData(150.1, 167.8, "150.1", "167.8")]
    [InlineData(1000.0001, 1000.0002, "1000.0001", "1000.0002")]
    public void Distinct_NumbersThatDiffer_NeverReadTheSame(double a, double b, string expectedA, string expectedB) =>
        Assert.Equal((expectedA, expectedB), ReportFormat.Distinct(a, b));
}
