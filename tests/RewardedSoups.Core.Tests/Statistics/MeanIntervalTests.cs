using RewardedSoups.Statistics;

namespace RewardedSoups.Tests.Statistics;

public sealed class MeanIntervalTests
{
    [Fact]
    public void Of_FiveSamples_StudentTHalfWidth()
    {
        // mean 3, s = √2.5, t(0.975, 4) = 2.7764451: half-width = 2.7764451·√2.5/√5 = 1.963243.
        var ci = MeanInterval.Of([1, 2, 3, 4, 5]);
        Assert.Equal(3, ci.Mean, 12);
        Assert.Equal(1.963243, ci.HalfWidth, 5);
    }

    [Fact]
    public void Of_OneSample_NoInterval()
    {
        var ci = MeanInterval.Of([7]);
        Assert.Equal(7, ci.Mean);
        Assert.True(double.IsNaN(ci.HalfWidth));
    }

    [Fact]
    public void DisjointFrom_SeparatedAndOverlapping()
    {
        var a = new MeanInterval(0, 1, 5, 1);
        Assert.True(a.DisjointFrom(new MeanInterval(2.5, 1, 5, 1)));
        Assert.False(a.DisjointFrom(new MeanInterval(1.5, 1, 5, 1)));
    }
}
