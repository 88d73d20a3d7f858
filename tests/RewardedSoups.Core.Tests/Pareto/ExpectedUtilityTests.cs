using CsCheck;
using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class ExpectedUtilityTests
{
    [Fact]
    public void Compute_HandExample_IsMeanOfBestUtilities()
    {
        double[][] points = [[1, 0], [0, 1], [0.6, 0.6]];
        double[][] preferences = [[1, 0], [0.5, 0.5], [0, 1]];

        // Best utilities: 1 (from (1, 0)), 0.6 (from (0.6, 0.6)), 1 (from (0, 1)).
        Assert.Equal(2.6 / 3, ExpectedUtility.Compute(points, preferences), 1e-15);
    }

    [Fact]
    public void Compute_ManyObjectives_SumsEachUtilityInOrder_TheSameBitsOnEveryCpu()
    {
        // Sixteen objectives: a vector sum of 2, 4 or 8 lanes (what the CPU's widest vector holds) adds them in
        // another order than one by one, so its last bits would follow the machine that wrote results.json.
        var random = new Random(3);
        double[][] points = [.. Enumerable.Range(0, 6).Select(_ => Enumerable.Range(0, 16).Select(_ => random.NextDouble() * 100 - 50).ToArray())];
        double[][] preferences = [.. Enumerable.Range(0, 9).Select(_ => Enumerable.Range(0, 16).Select(_ => random.NextDouble()).ToArray())];
        double total = 0;
        foreach (double[] w in preferences)
        {
            double best = double.NegativeInfinity;
            foreach (double[] p in points)
            {
                double utility = 0;
                for (int i = 0; i < w.Length; i++) utility += w[i] * p[i];
                best = Math.Max(best, utility);
            }
            total += best;
        }
        Assert.Equal(total / preferences.Length, ExpectedUtility.Compute(points, preferences));
    }

    [Fact]
    public void Compute_DivisionsOverload_UsesSimplexGrid()
    {
        double[][] points = [[3, 0, 1], [0, 2, 2], [1, 1, 1]];

        Assert.Equal(
            ExpectedUtility.Compute(points, SimplexGrid.Points(3, 7)),
            ExpectedUtility.Compute(points, 7));
    }

    [Fact]
    public void Compute_SinglePointOnGrid_EqualsMeanObjective()
    {
        // The grid is symmetric across coordinates, so the mean weight of each is 1/d.
        (from dims in Gen.Int[1, 5]
         from point in Gen.Double[-5, 5].Array[dims]
         from divisions in Gen.Int[1, 8]
         select (point, divisions))
        .Sample((point, divisions) =>
            Assert.Equal(point.Average(), ExpectedUtility.Compute([point], divisions), 1e-12), iter: 200);
    }

    [Fact]
    public void Compute_PointAdded_NeverDecreasesAndDominatedPointChangesNothing()
    {
        (from dims in Gen.Int[1, 5]
         from points in Gen.Double[0, 1].Array[dims].Array[1, 15]
         from extra in Gen.Double[0, 1].Array[dims]
         select (points, extra))
        .Sample((points, extra) =>
        {
            double before = ExpectedUtility.Compute(points, 6);
            Assert.True(ExpectedUtility.Compute([.. points, extra], 6) >= before);

            double[] dominated = new double[extra.Length];
            for (int i = 0; i < extra.Length; i++)
            {
                dominated[i] = points[0][i] - extra[i];
            }

            Assert.Equal(before, ExpectedUtility.Compute([.. points, dominated], 6));
        }, iter: 200);
    }

    [Fact]
    public void Compute_DimensionMismatch_Throws()
    {
        Assert.Throws<ArgumentException>(() => ExpectedUtility.Compute([[1.0, 2.0]], [[1.0, 0.0, 0.0]]));
    }

    [Fact]
    public void Compute_NegativeWeight_ThrowsNamingIt()
    {
        var ex = Assert.Throws<ArgumentException>(() => ExpectedUtility.Compute([[1.0, 2.0]], [[1.5, -0.5]]));
        Assert.Contains("preferences[0][1]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_EmptySets_Throw()
    {
        Assert.Throws<ArgumentException>(() => ExpectedUtility.Compute([], [[1.0]]));
        Assert.Throws<ArgumentException>(() => ExpectedUtility.Compute([[1.0]], []));
        Assert.Throws<ArgumentException>(() => ExpectedUtility.Compute([], 5));
    }

    [Fact]
    public void Compute_NonFinitePoint_Throws()
    {
        Assert.Throws<ArgumentException>(() => ExpectedUtility.Compute([[1.0, double.PositiveInfinity]], 4));
    }
}
