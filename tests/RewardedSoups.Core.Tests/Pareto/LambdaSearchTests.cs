using CsCheck;
using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class LambdaSearchTests
{
    /// <summary>Validation returns of a soup whose two rewards are both 1 − (λ₂ − peak)²: every μ is served best at λ₂ = peak.</summary>
    private static (double[] Lambda, double[][] Validation) Peaked(double l2, double peak = 0.375)
    {
        double r = 1 - (l2 - peak) * (l2 - peak);
        return ([1 - l2, l2], [[r, r], [r, r]]);
    }

    [Fact]
    public void Directions_AreTheOrderedPairs_InAFixedOrder()
    {
        Assert.Equal([(0, 1), (1, 0)], LambdaSearch.Directions(2));
        Assert.Equal([(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)], LambdaSearch.Directions(3));
        Assert.Throws<ArgumentException>(() => LambdaSearch.Directions(1));
    }

    [Fact]
    public void Step_HalvesEveryRound()
    {
        Assert.Equal(0.05, LambdaSearch.Step(0.05, 1));
        Assert.Equal(0.025, LambdaSearch.Step(0.05, 2));
        Assert.Equal(0.00625, LambdaSearch.Step(0.05, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => LambdaSearch.Step(0.05, 0));
    }

    [Fact]
    public void Move_StaysOnTheSimplex_OrIsNull()
    {
        Assert.Equal([0.35, 0.65], LambdaSearch.Move([0.3, 0.7], 0, 1, 0.05)!); // rounded: 0.3 + 0.05 is 0.35000000000000003 in doubles
        Assert.Equal([0.25, 0.75], LambdaSearch.Move([0.3, 0.7], 1, 0, 0.05)!);
        Assert.Null(LambdaSearch.Move([1, 0], 0, 1, 0.05)!);                  // weight 2 has nothing to give
        Assert.Equal([0.95, 0.05], LambdaSearch.Move([1, 0], 1, 0, 0.05)!);
        Assert.Equal([0.5, 0.25, 0.25], LambdaSearch.Move([0.5, 0.5, 0], 2, 1, 0.25)!);
        Assert.Null(LambdaSearch.Move([0.5, 0.5, 0], 1, 2, 0.25)!);
    }

    [Fact]
    public void Round_TwoRewards_BisectsTheCellsAroundTheBestSoup()
    {
        // Grid λ₂ = 0, 0.25, …, 1; the peak at 0.375 ties 0.25 and 0.5, and the tie goes to the λ nearest μ = (0.5, 0.5).
        var grid = new[] { 0, 0.25, 0.5, 0.75, 1 }.Select(l => Peaked(l)).ToList();
        SearchProposal[][] round = LambdaSearch.Round([[0.5, 0.5]], grid, 0.125);
        Assert.Equal([0.5, 0.5], round[0][0].From);
        Assert.Equal([0.625, 0.375], round[0][0].Lambda!);   // weight from expert 2 to expert 1: λ₂ = 0.375, the peak
        Assert.Equal([0.375, 0.625], round[0][1].Lambda!);
        Assert.All(round[0], p => Assert.Null(p.Skipped));

        // The next round starts from the peak, with half the step.
        SearchProposal[][] next = LambdaSearch.Round([[0.5, 0.5]], [.. grid, Peaked(0.375), Peaked(0.625)], 0.0625);
        Assert.Equal([0.625, 0.375], next[0][0].From);
        Assert.Equal([0.6875, 0.3125], next[0][0].Lambda!);
        Assert.Equal([0.5625, 0.4375], next[0][1].Lambda!);
    }

    [Fact]
    public void Round_SkipsWhatIsOffTheSimplex_AlreadyEvaluated_OrAlreadyProposed()
    {
        // Returns favour expert 1 for μ₁ and the soup 0.5 for μ₂.
        (double[], double[][])[] candidates =
        [
            ([1.0, 0.0], [[10, 10], [0, 0]]),
            ([0.5, 0.5], [[4, 4], [8, 8]]),
            ([0.75, 0.25], [[1, 1], [1, 1]]),
            ([0.0, 1.0], [[0, 0], [5, 5]]),
        ];
        SearchProposal[][] round = LambdaSearch.Round([[1.0, 0.0], [0.5, 0.5], [0.45, 0.55]], candidates, 0.25);
        Assert.Equal([1.0, 0.0], round[0][0].From);
        Assert.Null(round[0][0].Lambda!);
        Assert.StartsWith("off the simplex (weight 2 is 0 < δ 0.25)", round[0][0].Skipped);
        Assert.Null(round[0][1].Lambda!);
        Assert.Equal("already evaluated", round[0][1].Skipped);        // (0.75, 0.25)
        Assert.Equal("already evaluated", round[1][0].Skipped);        // (0.75, 0.25) again
        Assert.Equal([0.25, 0.75], round[1][1].Lambda!);
        Assert.Equal([0.5, 0.5], round[2][1].From);
        Assert.Equal("already proposed this round", round[2][1].Skipped); // (0.25, 0.75), proposed for μ₂
    }

    [Fact]
    public void Round_ThreeRewards_CompassMovesAroundTheBest()
    {
        // Only reward 3 counts and it grows with λ₃: from the grid's best (0, 0.5, 0.5) the moves give or take λ₃.
        var grid = SimplexGrid.Points(3, 2).Select(l => (l, new[] { new[] { 0.0, 0 }, new[] { 0.0, 0 }, new[] { l[2], l[2] } })).ToList();
        grid.RemoveAll(c => c.l[2] == 1); // no vertex 3: the best is then (0.5, 0, 0.5) or (0, 0.5, 0.5); the tie goes to the nearest μ
        SearchProposal[][] round = LambdaSearch.Round([[0.1, 0.2, 0.7]], grid.Select(c => (c.l, c.Item2)).ToList(), 0.25);
        Assert.Equal([0, 0.5, 0.5], round[0][0].From);
        double[]?[] lambdas = round[0].Select(p => p.Lambda).ToArray();
        Assert.Equal([0.25, 0.25, 0.5], lambdas[0]!);   // to 1 from 2
        Assert.Equal([0.25, 0.5, 0.25], lambdas[1]!);   // to 1 from 3
        Assert.Null(lambdas[2]!);                       // to 2 from 1: λ₁ = 0 has nothing to give
        Assert.Equal([0, 0.75, 0.25], lambdas[3]!);     // to 2 from 3
        Assert.Null(lambdas[4]!);                       // to 3 from 1
        Assert.Equal([0, 0.25, 0.75], lambdas[5]!);     // to 3 from 2
    }

    [Fact]
    public void Round_EveryProposalIsNew_OnTheSimplex_AndOneStepFromItsBest()
    {
        var gen = Gen.Int[2, 4].SelectMany(n => Gen.Int[1, 4].SelectMany(divisions =>
            Gen.Double[-5, 5].Array[SimplexGrid.Points(n, divisions).Count() * n].SelectMany(values =>
                Gen.Int[0, 4].SelectMany(stepIndex => Gen.Double[0.01, 1].Array[n].Array[1, 4].Select(mus => (n, divisions, values, step: new[] { 0.5, 0.25, 0.125, 0.1, 0.05 }[stepIndex], mus))))));
        gen.Sample(t =>
        {
            var points = SimplexGrid.Points(t.n, t.divisions).ToList();
            var candidates = points.Select((l, k) => (l, Enumerable.Range(0, t.n).Select(i => new[] { t.values[k * t.n + i], t.values[k * t.n + i] }).ToArray())).ToList();
            var mus = t.mus.Select(m => m.Select(x => x / m.Sum()).ToArray()).ToList();
            SearchProposal[][] round = LambdaSearch.Round(mus, candidates, t.step);
            var made = round.SelectMany(r => r).Where(p => p.Lambda is not null).Select(p => p.Lambda!).ToList();
            foreach (SearchProposal p in round.SelectMany(r => r))
            {
                if (p.Lambda is not { } l) { Assert.NotNull(p.Skipped); continue; }
                Assert.True(l.All(x => x >= 0) && Math.Abs(l.Sum() - 1) < 1e-9, $"off the simplex: {string.Join(", ", l)}");
                Assert.Equal(2 * t.step, l.Zip(p.From).Sum(z => Math.Abs(z.First - z.Second)), 9);
                Assert.DoesNotContain(candidates, c => PreferredSoup.SameWeights(c.l, l));
                Assert.Single(made, m => PreferredSoup.SameWeights(m, l));
            }
        });
    }
}
