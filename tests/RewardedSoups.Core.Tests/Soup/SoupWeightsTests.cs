using CsCheck;
using RewardedSoups.Soup;

namespace RewardedSoups.Tests.Soup;

/// <summary>λ as a checked value: what it accepts, what it refuses (one line naming the weight), and that its text round-trips.</summary>
public sealed class SoupWeightsTests
{
    [Theory]
    [InlineData("0.3,0.7", new[] { 0.3, 0.7 })]
    [InlineData(" 0.25 , 0.25,0.5 ", new[] { 0.25, 0.25, 0.5 })]
    [InlineData("1,0", new[] { 1.0, 0.0 })]
    [InlineData("0.3,0.7000005", new[] { 0.3, 0.7000005 })] // within the tolerance
    public void Parse_SimplexWeights_Accepted(string text, double[] expected)
    {
        SoupWeights w = SoupWeights.Parse(text);
        Assert.Equal(expected, w);
        Assert.False(w.AllowsExtrapolation);
        Assert.False(w.Extrapolates);
    }

    [Theory]
    [InlineData("0.3,x", "weights: 'x' (weight 2) is not a number")]
    [InlineData("0.5,NaN", "weights: weight 2 is NaN; weights must be finite")]
    [InlineData("1e400,0", "weights: weight 1 is Infinity; weights must be finite")]
    [InlineData("1.2,-0.2", "weights: weight 2 is -0.2; weights must be non-negative")]
    [InlineData("0.5,0.4", "weights: sum to 0.9, not 1 (tolerance 1e-06)")]
    [InlineData("0.3,0.7000011", "weights: sum to 1.0000011, not 1 (tolerance 1e-06)")]
    [InlineData("", "weights: '' (weight 1) is not a number")]
    public void Parse_Invalid_OneLineNamingTheWeight(string text, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => SoupWeights.Parse(text));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Parse_Invalid_RemedyAppendedOnlyToSimplexErrors()
    {
        const string remedy = "--allow-extrapolation accepts any finite weights";
        Assert.Equal("weights: sum to 2, not 1 (tolerance 1e-06); " + remedy, Assert.Throws<SoupInputException>(() => SoupWeights.Parse("1,1", remedy: remedy)).Message);
        Assert.Equal("weights: weight 1 is NaN; weights must be finite", Assert.Throws<SoupInputException>(() => SoupWeights.Parse("NaN,1", remedy: remedy)).Message);
    }

    [Fact]
    public void Of_Extrapolation_AcceptedOnlyWhenAllowedAndSaysSo()
    {
        Assert.Throws<SoupInputException>(() => SoupWeights.Of([1.5, -0.5]));
        SoupWeights w = SoupWeights.Of([1.5, -0.5], allowExtrapolation: true);
        Assert.True(w.AllowsExtrapolation);
        Assert.True(w.Extrapolates);
        SoupWeights inside = SoupWeights.Of([0.5, 0.5], allowExtrapolation: true);
        Assert.True(inside.AllowsExtrapolation);
        Assert.False(inside.Extrapolates);
        Assert.Throws<SoupInputException>(() => SoupWeights.Of([double.PositiveInfinity, 1], allowExtrapolation: true));
        Assert.Equal("weights: none given", Assert.Throws<SoupInputException>(() => SoupWeights.Of([], allowExtrapolation: true)).Message);
    }

    [Fact]
    public void CollectionExpression_IsChecked()
    {
        SoupWeights ok = [0.2, 0.8];
        Assert.Equal([0.2, 0.8], ok.ToArray());
        Assert.Throws<SoupInputException>(() => { SoupWeights bad = [0.2, 0.7]; });
    }

    [Fact]
    public void NegativeZero_BecomesPositiveZero_SoEqualWeightsAreEqual()
    {
        SoupWeights a = SoupWeights.Parse("-0,1"), b = SoupWeights.Parse("0,1");
        Assert.False(double.IsNegative(a[0]));
        Assert.Equal(b, a);
        Assert.Equal(b.GetHashCode(), a.GetHashCode());
        Assert.Equal("[0,1]", a.ToString());
        Assert.NotEqual(SoupWeights.Of([0.0, 1.0], allowExtrapolation: true), b); // the permission is part of the value
    }

    [Fact]
    public void For_CountMustMatchTheInputs()
    {
        SoupWeights w = [0.5, 0.5];
        Assert.Same(w, w.For(2));
        Assert.Equal("weights: 2 given for 3 inputs", Assert.Throws<SoupInputException>(() => w.For(3)).Message);
    }

    [Fact]
    public void Uniform_SumsToOneForAnyCount()
    {
        for (int n = 1; n <= 64; n++)
        {
            SoupWeights w = SoupWeights.Uniform(n);
            Assert.Equal(n, w.Count);
            Assert.False(w.Extrapolates);
        }
        Assert.Throws<SoupInputException>(() => SoupWeights.Uniform(0));
    }

    [Fact]
    public void ToArray_IsACopy()
    {
        SoupWeights w = [0.5, 0.5];
        double[] copy = w.ToArray();
        copy[0] = 7;
        Assert.Equal(0.5, w[0]);
    }

    [Fact]
    public void Text_RoundTripsExactly_ForAnySimplexWeights()
    {
        Gen.Double[0.001, 1].Array[2, 8].Sample(raw =>
        {
            double sum = raw.Sum();
            double[] values = raw.Select(x => x / sum).ToArray();
            SoupWeights w = SoupWeights.Of(values);
            SoupWeights back = SoupWeights.Parse(w.ToString()[1..^1]);
            Assert.Equal(w, back);
            Assert.Equal(values, back.ToArray());
        });
    }
}
