namespace RewardedSoups.Tasks.Locomotion.Tests;

public sealed class NoiseStreamTests
{
    [Fact]
    public void NextUnit_SeedZeroInstanceZero_FollowsPublishedSplitMix64()
    {
        // (0, 0) starts from state 0, whose SplitMix64 outputs are published with the algorithm.
        var noise = new NoiseStream(0, 0);
        const double Scale = 1.0 / (1UL << 53);
        Assert.Equal((0xE220A8397B1DCDAFUL >> 11) * Scale, noise.NextUnit());
        Assert.Equal((0x6E789E6AA1B965F4UL >> 11) * Scale, noise.NextUnit());
    }

    [Fact]
    public void NextGaussian_100kDraws_MeanZeroVarianceOne()
    {
        var noise = new NoiseStream(17, 3);
        double sum = 0, squares = 0;
        const int N = 100_000;
        for (int k = 0; k < N; k++)
        {
            double g = noise.NextGaussian();
            sum += g;
            squares += g * g;
        }
        Assert.InRange(sum / N, -0.015, 0.015);          // standard error 0.003
        Assert.InRange(squares / N - Math.Pow(sum / N, 2), 0.985, 1.015); // standard error 0.0045
    }

    [Fact]
    public void NextSymmetric_100kDraws_FillMinusOneToOne()
    {
        var noise = new NoiseStream(-5, 0);
        double min = 1, max = -1;
        for (int k = 0; k < 100_000; k++)
        {
            double u = noise.NextSymmetric();
            min = Math.Min(min, u);
            max = Math.Max(max, u);
        }
        Assert.InRange(min, -1, -0.999);
        Assert.InRange(max, 0.999, 1 - 1e-16);
    }

    [Fact]
    public void Streams_NeighbouringSeedsAndInstances_Differ()
    {
        double[] first = [new NoiseStream(1, 0).NextUnit(), new NoiseStream(0, 1).NextUnit(), new NoiseStream(1, 1).NextUnit(), new NoiseStream(0, 0).NextUnit()];
        Assert.Equal(4, first.Distinct().Count());
        Assert.Equal(new NoiseStream(1, 1).NextUnit(), first[2]);
    }
}
