using CsCheck;
using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class PreferredSoupTests
{
    [Fact]
    public void Utilities_AreMuDotReturns_EpisodeByEpisode()
    {
        double[][] returns = [[10, 20, 30], [1, 2, 3]];
        Assert.Equal([0.7 * 10 + 0.3 * 1, 0.7 * 20 + 0.3 * 2, 0.7 * 30 + 0.3 * 3], PreferredSoup.Utilities([0.7, 0.3], returns));
    }

    [Theory]
    [InlineData(new[] { 0.5 }, "μ has 1 weights for 2 rewards")]
    [InlineData(new[] { 0.6, 0.6 }, "sum to 1.2")]
    [InlineData(new[] { 1.5, -0.5 }, "non-negative")]
    public void Utilities_BadMu_Refused(double[] mu, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => PreferredSoup.Utilities(mu, [[1, 2], [3, 4]]));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Utilities_RaggedReturns_Refused() =>
        Assert.Contains("ragged", Assert.Throws<ArgumentException>(() => PreferredSoup.Utilities([0.5, 0.5], [[1, 2], [3]])).Message);

    [Fact]
    public void Choose_HighestValidationUtility_NotTheNearestLambda()
    {
        // Reward 1 is on a scale 100 times reward 2's: at μ = (0.5, 0.5) the soup that keeps reward 1 wins, not λ = μ.
        (double[], double[][])[] candidates =
        [
            ([1.0, 0.0], [[100, 100], [0, 0]]),
            ([0.5, 0.5], [[60, 60], [0.5, 0.5]]),
            ([0.0, 1.0], [[0, 0], [1, 1]]),
        ];
        Assert.Equal(0, PreferredSoup.Choose([0.5, 0.5], candidates));
        Assert.Equal(2, PreferredSoup.Choose([0.0, 1.0], candidates));
    }

    [Fact]
    public void Choose_Ties_GoToTheLambdaNearestMu_ThenToTheFirst()
    {
        (double[], double[][])[] candidates =
        [
            ([1.0, 0.0], [[1, 1], [1, 1]]),
            ([0.5, 0.5], [[1, 1], [1, 1]]),
            ([0.6, 0.4], [[1, 1], [1, 1]]),
        ];
        Assert.Equal(1, PreferredSoup.Choose([0.5, 0.5], candidates));
        Assert.Equal(2, PreferredSoup.Choose([0.7, 0.3], candidates));
        Assert.Equal(0, PreferredSoup.Choose([0.7, 0.3], [candidates[0], candidates[0]]));
    }

    [Fact]
    public void Choose_NoCandidates_OrNonFinite_Refused()
    {
        Assert.Contains("no candidate", Assert.Throws<ArgumentException>(() => PreferredSoup.Choose([0.5, 0.5], [])).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => PreferredSoup.Choose([0.5, 0.5], [([0.5, 0.5], [[double.NaN], [1]])])).Message);
    }

    [Fact]
    public void Split_FirstHalfValidates_RestTests()
    {
        (double[][] v, double[][] t) = PreferredSoup.Split([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);
        Assert.Equal([[1, 2], [6, 7]], v);
        Assert.Equal([[3, 4, 5], [8, 9, 10]], t);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() => PreferredSoup.Split([[1], [2]])).Message);
    }

    [Fact]
    public void Choose_IsTheArgmaxOfMeanUtility_ForAnyCandidates()
    {
        // Property: the chosen candidate's mean validation utility is the maximum over all candidates.
        Gen.Double[-100, 100].Array[4].Array[2].Array[1, 6]
            .Select(Gen.Double[0, 1], (c, w) => (c, w))
            .Sample(x =>
            {
                double[] mu = [x.w, 1 - x.w];
                var candidates = x.c.Select((r, k) => (new[] { k / 10.0, 1 - k / 10.0 }, r)).ToList();
                int chosen = PreferredSoup.Choose(mu, candidates);
                double best = candidates.Max(c => PreferredSoup.Utilities(mu, c.r).Average());
                return PreferredSoup.Utilities(mu, candidates[chosen].r).Average() == best;
            });
    }
}
