using RewardedSoups.Learning;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>The locomotion ensemble: the mode of the Gaussian experts' weighted product.</summary>
public sealed class GaussianProductActorTests
{
    private static (GaussianPolicy Policy, RunningMeanStd Norm) Expert(int seed, float logStd, float shift)
    {
        var policy = TorchRandom.Seeded(seed, () => new GaussianPolicy(3, 2, hidden: 8));
        using (no_grad())
        {
            using TorchSharp.Scalar value = logStd;
            policy.LogStd.fill_(value);
        }
        var norm = new RunningMeanStd(3);
        norm.Update([shift, 0, 1, shift + 1, 2, -1], 2);
        return (policy, norm);
    }

    private static float[] Observations => [0.3f, -1.2f, 0.5f, 2.0f, 0.1f, -0.4f];

    private static float[] Act(DeterministicActor actor)
    {
        var actions = new float[2 * 2];
        actor.Act(Observations, 2, actions);
        return actions;
    }

    [Fact]
    public void OneHotWeights_GiveExactlyTheExpertsActions()
    {
        var (pa, na) = Expert(1, -0.5f, 0);
        var (pb, nb) = Expert(2, -0.5f, 1);
        using var alone = new PolicyActor(pa, na);
        float[] expected = Act(alone);
        using var ensemble = new GaussianProductActor([(pa, na, 1.0), (pb, nb, 0.0)]);   // pb is not run (and disposed)
        Assert.Equal(expected, Act(ensemble));
        Assert.Equal(2, ensemble.ForwardPasses);
    }

    [Fact]
    public void EqualStandardDeviations_GiveTheWeightedMeanOfTheExpertsMeans()
    {
        var (pa, na) = Expert(3, -0.2f, 0);
        var (pb, nb) = Expert(4, -0.2f, 2);
        float[] a, b;
        using (var actor = new PolicyActor(pa, na)) a = Act(actor);
        using (var actor = new PolicyActor(pb, nb)) b = Act(actor);
        using var ensemble = new GaussianProductActor([(pa, na, 0.3), (pb, nb, 0.7)]);
        float[] got = Act(ensemble);
        for (int k = 0; k < got.Length; k++) Assert.Equal(0.3 * a[k] + 0.7 * b[k], got[k], 6);
        Assert.Equal(4, ensemble.ForwardPasses);   // 2 rows × 2 members
    }

    [Fact]
    public void UnequalStandardDeviations_WeighTheMeansByPrecision()
    {
        // σa = e^0 = 1, σb = e^{ln 2} = 2: with λ = (½, ½) the precisions are ½·1 and ½·¼, so the weights are 0.8 and 0.2.
        double[][] c = GaussianProductActor.Coefficients([0.5, 0.5], [[0f, 0f], [(float)Math.Log(2), 0f]]);
        Assert.Equal(0.8, c[0][0], 6);   // ln 2 held as a float
        Assert.Equal(0.2, c[1][0], 6);
        Assert.Equal(0.5, c[0][1]);   // equal σ in the second dimension: λ itself
        Assert.Equal(0.5, c[1][1]);
    }
}
