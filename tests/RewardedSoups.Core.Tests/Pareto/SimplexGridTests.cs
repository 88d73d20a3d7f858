using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class SimplexGridTests
{
    [Fact]
    public void Points_TwoDimensionsTenDivisions_MoveWeightToLastCoordinate()
    {
        double[][] grid = SimplexGrid.Points(2, 10);

        Assert.Equal(11, grid.Length);
        for (int k = 0; k <= 10; k++)
        {
            // Exactly the nearest doubles to (10 − k)/10 and k/10: (1, 0), (0.9, 0.1), …, (0, 1).
            Assert.Equal([(10 - k) / 10.0, k / 10.0], grid[k]);
        }

        Assert.Equal([0.9, 0.1], grid[1]);
    }

    [Fact]
    public void Points_ThreeDimensionsTwoDivisions_FollowDocumentedOrder()
    {
        double[][] expected =
        [
            [1, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1],
        ];

        Assert.Equal(expected, SimplexGrid.Points(3, 2));
    }

    [Fact]
    public void Points_OneDimension_IsTheSingleVertex()
    {
        Assert.Equal([[1.0]], SimplexGrid.Points(1, 7));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1, 2)]
    [InlineData(2, 10, 11)]
    [InlineData(3, 10, 66)]
    [InlineData(4, 5, 56)]
    [InlineData(6, 8, 1287)]
    public void Count_KnownSizes_MatchBinomial(int dimensions, int divisions, long expected)
    {
        Assert.Equal(expected, SimplexGrid.Count(dimensions, divisions));
        Assert.Equal(expected, SimplexGrid.Points(dimensions, divisions).Length);
    }

    [Fact]
    public void Points_AllSmallGrids_AreDistinctExactFractionsSummingToOne()
    {
        for (int dimensions = 1; dimensions <= 6; dimensions++)
        {
            for (int divisions = 1; divisions <= 9; divisions++)
            {
                double[][] grid = SimplexGrid.Points(dimensions, divisions);
                Assert.Equal(Binomial(divisions + dimensions - 1, dimensions - 1), grid.Length);
                var seen = new HashSet<string>();
                foreach (double[] point in grid)
                {
                    Assert.Equal(dimensions, point.Length);
                    double sum = 0;
                    foreach (double w in point)
                    {
                        double k = Math.Round(w * divisions);
                        Assert.Equal(k / divisions, w);
                        Assert.InRange(k, 0, divisions);
                        sum += w;
                    }

                    Assert.Equal(1.0, sum, 1e-12);
                    Assert.True(seen.Add(string.Join(",", point)), $"duplicate point {string.Join(",", point)}");
                }

                Assert.Equal(1.0, grid[0][0]);
                Assert.Equal(1.0, grid[^1][^1]);
            }
        }
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(3, 0)]
    [InlineData(-1, 5)]
    public void Points_NonPositiveArguments_Throw(int dimensions, int divisions)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SimplexGrid.Points(dimensions, divisions));
    }

    [Fact]
    public void Points_TooManyPoints_ThrowsNamingLimit()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => SimplexGrid.Points(10, 1000));
        Assert.Contains(SimplexGrid.MaxPoints.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    private static long Binomial(int n, int k)
    {
        long result = 1;
        for (int i = 1; i <= k; i++)
        {
            result = result * (n - k + i) / i;
        }

        return result;
    }
}
