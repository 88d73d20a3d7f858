using RewardedSoups.App;

namespace RewardedSoups.Tests;

/// <summary>λ as the app keys it: parsed strictly, rounded to the page's two decimals, summing to exactly 1.</summary>
public sealed class SoupLambdaTests
{
    [Theory]
    [InlineData("0,1", new[] { 0.0, 1.0 })]
    [InlineData("-0,1", new[] { 0.0, 1.0 })]                // −0 is 0
    [InlineData("1e-320,1", new[] { 0.0, 1.0 })]            // a denormal is 0
    [InlineData("0.000001,0.999999", new[] { 0.0, 1.0 })]
    [InlineData("0.374,0.626", new[] { 0.37, 0.63 })]
    [InlineData("0.29,0.71", new[] { 0.29, 0.71 })]         // 0.29 × 100 is 28.999999999999996 in binary
    [InlineData("0.375,0.625", new[] { 0.38, 0.62 })]       // a tie: the lower index takes the hundredth
    [InlineData("0.3333333,0.3333333,0.3333334", new[] { 0.33, 0.33, 0.34 })] // still summing to 1
    [InlineData("0.5000004,0.5", new[] { 0.5, 0.5 })]       // within the tolerance of the sum
    [InlineData("0.19999999999999996,0.8", new[] { 0.2, 0.8 })]
    public void TryParse_ValidWeights_RoundedToHundredthsSummingToOne(string text, double[] expected)
    {
        string? problem = SoupLambda.TryParse(text, expected.Length, out SoupLambda lambda);

        Assert.Null(problem);
        Assert.Equal(expected, lambda.Weights);
        Assert.All(lambda.Weights, w => Assert.False(double.IsNegative(w), "−0 must not survive"));
        Assert.Equal(100, lambda.Weights.Sum(w => (int)Math.Round(w * 100)));
    }

    [Fact]
    public void Key_WeightsThatLookTheSameOnThePage_SameKey()
    {
        string[] keys = new[] { "0,1", "-0,1", "1e-320,1", "0.000001,0.999999", "0.0,1.0", " 0 , 1 " }
            .Select(t => SoupLambda.TryParse(t, 2, out SoupLambda l) is null ? l.Key : "invalid")
            .ToArray();

        Assert.All(keys, k => Assert.Equal("0,100", k));
        Assert.NotEqual(keys[0], Parse("0.01,0.99").Key);
    }

    [Theory]
    [InlineData("-1e-320,1", "lambda[0] = -1E-320 is negative")]
    [InlineData("-0.000001,1.000001", "lambda[0] = -1E-06 is negative")]
    [InlineData("0.5,0.500002", "lambda sums to 1.00000")]
    [InlineData("1,0,0", "lambda has 3 weights; this run has 2 experts")]
    [InlineData("0.5;0.5", "lambda has 1 weight; this run has 2 experts")]
    [InlineData("0.5,0x1", "lambda[1] = '0x1' is not a finite number")]
    [InlineData("0.5,1,5", "lambda has 3 weights")]        // a decimal comma is not a decimal point
    public void TryParse_InvalidWeights_OneLineMessage(string text, string expected)
    {
        string? problem = SoupLambda.TryParse(text, 2, out _);

        Assert.NotNull(problem);
        Assert.StartsWith(expected, problem);
        Assert.DoesNotContain('\n', problem);
    }

    private static SoupLambda Parse(string text)
    {
        Assert.Null(SoupLambda.TryParse(text, 2, out SoupLambda lambda));
        return lambda;
    }
}
