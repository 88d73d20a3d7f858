using RewardedSoups.Learning;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>TorchSharp loads here (see build/TorchSharpGlibcxx.targets) and does real work.</summary>
public sealed class TorchSharpTests
{
    [Fact]
    public void Backward_QuadraticLoss_GradientIsTwiceTheInput()
    {
        using var scope = NewDisposeScope();
        Tensor x = tensor(new float[] { 1f, -2f, 3f }).requires_grad_();
        Tensor loss = (x * x).sum();
        loss.backward();
        Assert.Equal(new[] { 2f, -4f, 6f }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void Adam_FitsALine_LossFalls()
    {
        using var scope = NewDisposeScope();
        var model = TorchRandom.Seeded(1, () => nn.Linear(1, 1));
        var optimizer = optim.Adam(model.parameters(), lr: 0.1);
        Tensor xs = linspace(-1, 1, 32).reshape(32, 1);
        Tensor ys = 3 * xs + 0.5f;
        float first = 0, last = 0;
        for (int i = 0; i < 200; i++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss = nn.functional.mse_loss(model.call(xs), ys);
            loss.backward();
            optimizer.step();
            if (i == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.True(last < first * 1e-3, $"loss {first} → {last}");
    }

    /// <summary>Loading the learning layer puts MKL in its reproducible mode (AUTO branch, STRICT), unless the environment chose one.</summary>
    [Fact]
    public void BlasReproducibility_AfterLoading_MklInAutoStrictMode()
    {
        if (Environment.GetEnvironmentVariable("MKL_CBWR") is { Length: > 0 }) return;   // the environment's choice wins, by design
        Learning.BlasReproducibility.Ensure();
        Assert.Equal(2 | 0x10000, Learning.BlasReproducibility.Mode);   // MKL_CBWR_AUTO | MKL_CBWR_STRICT
    }
}
