using CsCheck;
using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class DominanceTests
{
    [Theory]
    [InlineData(new[] { 2.0, 2.0 }, new[] { 1.0, 1.0 }, true)]
    [InlineData(new[] { 2.0, 1.0 }, new[] { 1.0, 1.0 }, true)]
    [InlineData(new[] { 1.0, 1.0 }, new[] { 1.0, 1.0 }, false)]
    [InlineData(new[] { 2.0, 0.0 }, new[] { 1.0, 1.0 }, false)]
    [InlineData(new[] { 1.0, 1.0 }, new[] { 2.0, 2.0 }, false)]
    [InlineData(new[] { 5.0 }, new[] { 4.0 }, true)]
    [InlineData(new[] { 0.0, 0.0, 1.0 }, new[] { -0.0, 0.0, 0.0 }, true)]
    public void Dominates_HandCases_MatchDefinition(double[] a, double[] b, bool expected)
    {
        Assert.Equal(expected, Dominance.Dominates(a, b));
    }

    [Fact]
    public void Dominates_LengthMismatch_Throws()
    {
        Assert.Throws<ArgumentException>(() => Dominance.Dominates([1.0, 2.0], [1.0]));
    }

    [Fact]
    public void Dominates_NaNAfterDecidingObjective_StillThrows()
    {
        // The first objective already decides "false"; the NaN must be reported anyway.
        Assert.Throws<ArgumentException>(() => Dominance.Dominates([0.0, double.NaN], [1.0, 0.0]));
    }

    [Fact]
    public void NonDominatedIndices_TwoObjectivesHandExample_ReturnsFrontInInputOrder()
    {
        double[][] points =
        [
            [1, 3], [2, 2], [3, 1], [1, 1], [2, 2], [0, 4], [3, 0.5],
        ];

        Assert.Equal([0, 1, 2, 4, 5], Dominance.NonDominatedIndices(points));
    }

    [Fact]
    public void NonDominatedIndices_ThreeObjectivesHandExample_ReturnsFrontInInputOrder()
    {
        double[][] points =
        [
            [1, 1, 1],  // dominated by [2, 1, 1]
            [2, 1, 1],
            [1, 2, 1],
            [0, 0, 3],
            [1, 2, 0],  // dominated by [1, 2, 1]
            [0, 0, 3],  // duplicate of a front point: kept
        ];

        Assert.Equal([1, 2, 3, 5], Dominance.NonDominatedIndices(points));
    }

    [Fact]
    public void NonDominatedIndices_NoPoints_ReturnsEmpty()
    {
        Assert.Empty(Dominance.NonDominatedIndices([]));
    }

    [Fact]
    public void NonDominatedIndices_NaN_ThrowsNamingPoint()
    {
        var ex = Assert.Throws<ArgumentException>(
            () => Dominance.NonDominatedIndices([[1.0, 2.0], [double.NaN, 0.0]]));
        Assert.Contains("points[1][0]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonDominatedIndices_RaggedPoints_Throws()
    {
        Assert.Throws<ArgumentException>(() => Dominance.NonDominatedIndices([[1.0, 2.0], [1.0]]));
    }

    [Fact]
    public void NonDominatedIndices_RandomSetsWithManyTies_MatchQuadraticDefinition()
    {
        // Coordinates in {0..3} force equal values, duplicates and equal sums.
        (from dims in Gen.Int[1, 5]
         from points in Gen.Int[0, 3].Select(v => (double)v).Array[dims].Array[0, 40]
         select points)
        .Sample(points => Assert.Equal(QuadraticFront(points), Dominance.NonDominatedIndices(points)), iter: 500);
    }

    [Fact]
    public void NonDominatedIndices_InfiniteValues_MatchQuadraticDefinition()
    {
        double[] values = [double.NegativeInfinity, -1, 0, 1, double.PositiveInfinity];
        (from dims in Gen.Int[1, 4]
         from points in Gen.Int[0, values.Length - 1].Select(i => values[i]).Array[dims].Array[0, 25]
         select points)
        .Sample(points => Assert.Equal(QuadraticFront(points), Dominance.NonDominatedIndices(points)), iter: 300);
    }

    [Fact]
    public void NonDominatedIndices_ContinuousValues_MatchQuadraticDefinition()
    {
        (from dims in Gen.Int[2, 6]
         from points in Gen.Double[-1, 1].Array[dims].Array[0, 60]
         select points)
        .Sample(points => Assert.Equal(QuadraticFront(points), Dominance.NonDominatedIndices(points)), iter: 200);
    }

    [Fact]
    public void NonDominatedIndices_FrontAsSet_InvariantToDuplicatesAndOrder()
    {
        (from dims in Gen.Int[1, 5]
         from points in Gen.Int[0, 4].Select(v => (double)v).Array[dims].Array[1, 30]
         from seed in Gen.Int
         select (points, seed))
        .Sample((points, seed) =>
        {
            var random = new Random(seed);
            var shuffled = new List<double[]>(points);
            for (int k = 0; k < points.Length; k++)
            {
                shuffled.Add((double[])points[random.Next(points.Length)].Clone());
            }

            double[][] reordered = [.. shuffled];
            random.Shuffle(reordered);
            Assert.True(FrontValues(points).SetEquals(FrontValues(reordered)));
        }, iter: 300);
    }

    /// <summary>The O(n²) definition: kept when no point dominates it.</summary>
    private static int[] QuadraticFront(double[][] points)
    {
        var front = new List<int>();
        for (int i = 0; i < points.Length; i++)
        {
            bool dominated = false;
            for (int j = 0; j < points.Length; j++)
            {
                dominated |= Dominance.Dominates(points[j], points[i]);
            }

            if (!dominated)
            {
                front.Add(i);
            }
        }

        return [.. front];
    }

    private static HashSet<string> FrontValues(double[][] points)
    {
        var values = new HashSet<string>();
        foreach (int k in Dominance.NonDominatedIndices(points))
        {
            values.Add(string.Join(",", points[k]));
        }

        return values;
    }
}
