using RewardedSoups.Numerics;

namespace RewardedSoups.Tests.Numerics;

public sealed class FiniteJsonTests
{
    private sealed record Policy(string Label, double[] Mean);

    private sealed record Results(string Task, Policy[] Policies);

    [Fact]
    public void Serialize_FiniteNumbers_IsPlainIndentedJson()
    {
        string json = FiniteJson.Serialize(new Results("cheetah", [new("init", [1.5, -2])]), "results.json");
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(new Results("cheetah", [new("init", [1.5, -2])]), new System.Text.Json.JsonSerializerOptions { WriteIndented = true }), json);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void Serialize_NonFiniteNumber_NamesFileAndField(double value, string text)
    {
        var results = new Results("cheetah", [new("init", [1, 2]), new("soup", [3, value])]);
        var e = Assert.Throws<NumericalFailureException>(() => FiniteJson.Serialize(results, "runs/x/results.json"));
        Assert.Equal($"runs/x/results.json: Policies[1].Mean[1] ({text}) is not finite; nothing non-finite is written", e.Message);
    }
}
