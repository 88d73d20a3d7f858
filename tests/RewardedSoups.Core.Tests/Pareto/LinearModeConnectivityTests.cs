using CsCheck;
using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class LinearModeConnectivityTests
{
    [Fact]
    public void Path_SoupAboveChord_PositiveGapAndSummary()
    {
        // Chord at λ = ½ is ((1 + 3)/2, (3 + 1)/2) = (2, 2); the soup measures (2.5, 2.5).
        ConnectivityReport report = LinearModeConnectivity.Path(
            [0, 0.5, 1],
            [[1, 3], [2.5, 2.5], [3, 1]]);

        Assert.Equal([0.0, 0.0], report.Gaps[0]);
        Assert.Equal([0.5, 0.5], report.Gaps[1]);
        Assert.Equal([0.0, 0.0], report.Gaps[2]);
        Assert.Equal(new GapSummary(0, 0.5, 0.5 / 3), report.PerReward[0]);
        Assert.Equal(new GapSummary(0, 0.5, 0.5 / 3), report.PerReward[1]);
    }

    [Fact]
    public void Path_SoupBelowChordInAnyOrder_NegativeGap()
    {
        // Endpoints listed last and first; chord at λ = ¼ is ¾ × 0 + ¼ × 4 = 1, the soup gets 0.5.
        ConnectivityReport report = LinearModeConnectivity.Path([1, 0.25, 0], [[4], [0.5], [0]]);

        Assert.Equal([0.0], report.Gaps[0]);
        Assert.Equal([-0.5], report.Gaps[1]);
        Assert.Equal([0.0], report.Gaps[2]);
        Assert.Equal(new GapSummary(-0.5, 0, -0.5 / 3), report.PerReward[0]);
    }

    [Fact]
    public void Path_EndpointFromRepeatedAddition_IsFound()
    {
        double lambda = 0;
        for (int k = 0; k < 10; k++)
        {
            lambda += 0.1; // 0.9999999999999999, not 1
        }

        ConnectivityReport report = LinearModeConnectivity.Path([0, 0.5, lambda], [[0], [1], [2]]);

        Assert.Equal(0.0, report.Gaps[1][0], 1e-12);
    }

    [Fact]
    public void Path_MissingEndpoint_ThrowsNamingIt()
    {
        var ex = Assert.Throws<ArgumentException>(() => LinearModeConnectivity.Path([0, 0.5], [[0], [1]]));
        Assert.Contains("λ = 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Path_RepeatedEndpoint_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => LinearModeConnectivity.Path([0, 0, 1], [[0], [0.1], [1]]));
        Assert.Contains("twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Path_LengthsDisagree_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => LinearModeConnectivity.Path([0, 0.5, 1], [[0], [1]]));
        Assert.Contains("3 weight vectors but 2 reward vectors", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Path_RaggedRewards_Throws()
    {
        Assert.Throws<ArgumentException>(() => LinearModeConnectivity.Path([0, 1], [[0, 1], [1]]));
    }

    [Fact]
    public void Path_EqualsSimplexWithComplementWeights()
    {
        double[] lambdas = [0, 0.2, 0.7, 1];
        double[][] rewards = [[1, 5], [2, 3], [0.5, 4], [3, 1]];

        ConnectivityReport path = LinearModeConnectivity.Path(lambdas, rewards);
        ConnectivityReport simplex = LinearModeConnectivity.Simplex(
            [[1, 0], [1 - 0.2, 0.2], [1 - 0.7, 0.7], [0, 1]], rewards);

        Assert.Equal(simplex.Gaps, path.Gaps);
        Assert.Equal(simplex.PerReward, path.PerReward);
    }

    [Fact]
    public void Simplex_ThreeExpertsHandExample_GapAgainstPlane()
    {
        double third = 1.0 / 3;
        double[][] lambdas = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [third, third, third], [0.5, 0.5, 0]];
        double[][] rewards = [[3, 0], [0, 3], [1, 1], [2, 2], [1, 1]];

        ConnectivityReport report = LinearModeConnectivity.Simplex(lambdas, rewards);

        // Centre: chord (3 + 0 + 1)/3 = 4/3 for both rewards, soup 2: gap 2/3.
        Assert.Equal(2.0 / 3, report.Gaps[3][0], 1e-12);
        Assert.Equal(2.0 / 3, report.Gaps[3][1], 1e-12);
        // Edge midpoint of experts 1 and 2: chord (1.5, 1.5), soup (1, 1): gap −0.5.
        Assert.Equal([-0.5, -0.5], report.Gaps[4]);
        Assert.Equal(-0.5, report.PerReward[0].Min);
        Assert.Equal(2.0 / 3, report.PerReward[0].Max, 1e-12);
    }

    [Fact]
    public void Simplex_MissingVertex_ThrowsNamingExpert()
    {
        double[][] lambdas = [[1, 0, 0], [0, 1, 0], [0.5, 0, 0.5]];
        var ex = Assert.Throws<ArgumentException>(() => LinearModeConnectivity.Simplex(lambdas, [[1], [2], [3]]));
        Assert.Contains("expert 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("(0, 0, 1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Simplex_WeightsNotSummingToOne_Throws()
    {
        double[][] lambdas = [[1, 0], [0, 1], [0.5, 0.6]];
        var ex = Assert.Throws<ArgumentException>(() => LinearModeConnectivity.Simplex(lambdas, [[1], [2], [3]]));
        Assert.Contains("lambdas[2]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Simplex_RewardsLinearInWeights_GapIsZeroEverywhere()
    {
        // If R(λ) = Σ λ_i a_i exactly, the soup lies on the chord at every grid point.
        (from experts in Gen.Int[2, 5]
         from rewardCount in Gen.Int[1, 3]
         from anchors in Gen.Double[-10, 10].Array[rewardCount].Array[experts]
         from divisions in Gen.Int[1, 6]
         select (anchors, divisions))
        .Sample((anchors, divisions) =>
        {
            double[][] lambdas = SimplexGrid.Points(anchors.Length, divisions);
            var rewards = new double[lambdas.Length][];
            for (int j = 0; j < lambdas.Length; j++)
            {
                rewards[j] = new double[anchors[0].Length];
                for (int i = 0; i < anchors.Length; i++)
                {
                    for (int r = 0; r < anchors[0].Length; r++)
                    {
                        rewards[j][r] += lambdas[j][i] * anchors[i][r];
                    }
                }
            }

            foreach (GapSummary summary in LinearModeConnectivity.Simplex(lambdas, rewards).PerReward)
            {
                Assert.InRange(summary.Min, -1e-12, 1e-12);
                Assert.InRange(summary.Max, -1e-12, 1e-12);
            }
        }, iter: 200);
    }
}
