using RewardedSoups.Learning;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>
/// KeptAliveAdam replaces TorchSharp's optimisers in every trainer, so it must be the same optimiser:
/// the same bits after many steps, from the same weights on the same data, with and without decay.
/// </summary>
public sealed class KeptAliveAdamTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    public void Adam_SameBitsAsTorchSharpAdam(double weightDecay)
    {
        float[][] ours = Train(p => KeptAliveAdam.Adam(p, lr: 3e-3, eps: 1e-5, weightDecay: weightDecay));
        float[][] theirs = Train(p => optim.Adam(p, lr: 3e-3, eps: 1e-5, weight_decay: weightDecay));
        AssertMovedAndEqual(ours, theirs);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void AdamW_SameBitsAsTorchSharpAdamW_PerGroupDecay(double weightDecay)
    {
        static AdamW.ParamGroup[] Groups(IList<Parameter> p, double decay) =>
            [new AdamW.ParamGroup(p.Where(x => x.dim() >= 2), new AdamW.Options { weight_decay = decay }),
             new AdamW.ParamGroup(p.Where(x => x.dim() < 2), new AdamW.Options { weight_decay = 0 })];
        float[][] ours = Train(p => KeptAliveAdam.AdamW(Groups(p, weightDecay), lr: 3e-3, beta1: 0.9, beta2: 0.95));
        float[][] theirs = Train(p => optim.AdamW(Groups(p, weightDecay), lr: 3e-3, beta1: 0.9, beta2: 0.95));
        AssertMovedAndEqual(ours, theirs);
    }

    [Fact]
    public void Adam_LearningRateSetOnItsGroups_IsTheOneUsed()
    {
        // The trainers anneal lr through ParamGroups; a zero lr must leave every weight as it was.
        using var scope = NewDisposeScope();
        var (model, x) = TorchRandom.Seeded(3, () => (nn.Linear(4, 2), randn(8, 4)));
        float[] before = model.weight!.data<float>().ToArray();
        using var optimizer = KeptAliveAdam.Adam(model.parameters(), lr: 0.1);
        foreach (var group in optimizer.ParamGroups) group.LearningRate = 0;
        optimizer.zero_grad();
        model.call(x).square().sum().backward();
        optimizer.step();
        Assert.Equal(before, model.weight!.data<float>().ToArray());
    }

    private static void AssertMovedAndEqual(float[][] ours, float[][] theirs)
    {
        Assert.Equal(theirs.Length, ours.Length);
        for (int i = 0; i < ours.Length; i++) Assert.Equal(theirs[i], ours[i]);
    }

    /// <summary>60 steps of a small MLP from seed 7 on fixed data (drawn under <see cref="TorchRandom"/>'s gate: another test's draw cannot shift them); returns its parameters (and checks they moved).</summary>
    private static float[][] Train(Func<IList<Parameter>, optim.Optimizer> make)
    {
        using var scope = NewDisposeScope();
        var (model, x, y) = TorchRandom.Seeded(7, () => (nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)), randn(32, 5), randn(32, 3)));
        float[][] start = model.parameters().Select(p => p.data<float>().ToArray()).ToArray();
        using optim.Optimizer optimizer = make(model.parameters().ToList());
        for (int i = 0; i < 60; i++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            (model.call(x) - y).square().mean().backward();
            optimizer.step();
        }
        float[][] end = model.parameters().Select(p => p.data<float>().ToArray()).ToArray();
        for (int i = 0; i < end.Length; i++) Assert.NotEqual(start[i], end[i]);
        return end;
    }
}
