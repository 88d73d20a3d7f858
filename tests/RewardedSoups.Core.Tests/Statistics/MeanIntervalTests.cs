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
    public void OfDifferences_PairsCancelWhatTheConditionDecides()
    {
        // Each pair shares a large condition effect (0, 10, 20, …); b is a plus 1 ± 0.1.
        double[] a = [.. Enumerable.Range(0, 8).Select(i => 10.0 * i)];
        double[] b = [.. a.Select((x, i) => x + 1 + (i % 2 == 0 ? 0.1 : -0.1))];
        MeanInterval paired = MeanInterval.OfDifferences(b, a);
        Assert.Equal(1.0, paired.Mean, 9);
        Assert.Equal(MeanInterval.Of([.. b.Select((x, i) => x - a[i])]).HalfWidth, paired.HalfWidth, 12);
        Assert.True(paired.Low > 0.9, $"paired: {paired.Low:F3}..{paired.High:F3}");
        // Compared mean against mean, the same data shows no difference at all.
        Assert.False(MeanInterval.Of(b).DisjointFrom(MeanInterval.Of(a)));
        Assert.Throws<ArgumentException>(() => MeanInterval.OfDifferences(a, [1.0]));
    }

    [Fact]
    public void DisjointFrom_SeparatedAndOverlapping()
    {
        var a = new MeanInterval(0, 1, 5, 1);
        Assert.True(a.DisjointFrom(new MeanInterval(2.5, 1, 5, 1)));
        Assert.False(a.DisjointFrom(new MeanInterval(1.5, 1, 5, 1)));
    }
}
