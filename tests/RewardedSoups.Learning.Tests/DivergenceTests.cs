using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Numerics;
using RewardedSoups.Tests.Fixtures;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>
/// A non-finite loss or gradient norm stops every trainer with one line naming the place, before the
/// optimiser steps; nothing non-finite reaches a checkpoint.
/// </summary>
public sealed class DivergenceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void OptimiserStep_NaNLoss_RefusedBeforeAnyUpdate()
    {
        using var layer = nn.Linear(3, 2);
        using var optimizer = optim.Adam(layer.parameters(), lr: 0.1);
        float[] before = layer.weight!.data<float>().ToArray();
        Tensor loss = layer.call(ones(4, 3)).sum() * float.NaN;
        var e = Assert.Throws<NumericalFailureException>(() => OptimiserStep.Apply(optimizer, loss, layer.parameters(), 1.0, () => "test step 7"));
        Assert.Equal("training diverged: loss NaN at test step 7", e.Message);
        Assert.Equal(before, layer.weight!.data<float>().ToArray());
    }

    [Fact]
    public void OptimiserStep_FiniteLossNonFiniteGradient_RefusedBeforeAnyUpdate()
    {
        using var layer = nn.Linear(3, 2);
        using var optimizer = optim.Adam(layer.parameters(), lr: 0.1);
        float[] before = layer.weight!.data<float>().ToArray();
        // √|w − w| is 0 with an infinite slope at 0: a finite loss whose gradient is not.
        Parameter w = layer.weight!;
        Tensor loss = layer.call(ones(4, 3)).sum() * 0 + (w - w.detach()).abs().sqrt().sum();
        var e = Assert.Throws<NumericalFailureException>(() => OptimiserStep.Apply(optimizer, loss, layer.parameters(), 1.0, () => "test step 1"));
        Assert.Matches(@"^training diverged: gradient norm \S+ at test step 1$", e.Message);
        Assert.Equal(before, layer.weight!.data<float>().ToArray());
    }

    [Fact]
    public void OptimiserStep_InfiniteMaxNorm_LeavesGradientsExactlyAsBackwardMadeThem()
    {
        using var a = nn.Linear(3, 2);
        using var b = nn.Linear(3, 2);
        using (no_grad()) { b.weight!.copy_(a.weight!); b.bias!.copy_(a.bias!); }
        using var optA = optim.SGD(a.parameters(), 0.5);
        using var optB = optim.SGD(b.parameters(), 0.5);
        Tensor x = randn(5, 3);
        OptimiserStep.Apply(optA, a.call(x).square().sum(), a.parameters(), double.PositiveInfinity, () => "a");
        optB.zero_grad();
        b.call(x).square().sum().backward();
        optB.step();
        Assert.Equal(b.weight!.data<float>().ToArray(), a.weight!.data<float>().ToArray());
    }

    [Fact]
    public void Ppo_OverflowingReward_StopsAtTheFirstUpdate_NoPolicyWritten()
    {
        string dir = _dir.File("ppo");
        // A reward of 1e38 per unit overflows the return scaler to NaN on the first update: a real divergence.
        var reward = new RewardFunction("huge", new Dictionary<string, double> { ["closeness"] = 1e38 });
        var spec = new TrainingSpec("point-mass", reward, 1600, 1, null, new PpoSettings { Envs = 8, RolloutSteps = 100, Minibatches = 4, Epochs = 2 });
        var e = Assert.Throws<NumericalFailureException>(() => TrainingRun.Run(dir, spec, n => new PointMassEnv(n)));
        Assert.Matches(@"^training diverged: (loss|gradient norm) NaN at PPO update 1, epoch 1, minibatch 1$", e.Message);
        Assert.False(File.Exists(Path.Combine(dir, TrainingRun.PolicyFile)));
        Assert.False(File.Exists(Path.Combine(dir, TrainingRun.CheckpointFile)));
    }

    [Fact]
    public void TrainedCheckpoint_WithNaN_IsNotWritten_AndNamesTheTensor()
    {
        string path = _dir.File("nan.safetensors");
        byte[] good = new byte[8], bad = BitConverter.GetBytes(1f).Concat(BitConverter.GetBytes(float.NaN)).ToArray();
        var tensors = new List<(TensorSpec, byte[])> { (new TensorSpec("a", DType.F32, [2]), good), (new TensorSpec("b", DType.F32, [2]), bad) };
        var e = Assert.Throws<NumericalFailureException>(() => TrainedCheckpoint.Write(path, tensors, new Dictionary<string, string>()));
        Assert.Equal($"{path}: tensor 'b' holds a NaN or infinite value; the checkpoint is not written", e.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!));   // no temporary left either
    }

    [Fact]
    public void KernelCheck_Float32DisagreeingWithFloat64_NamesTheLossOrTheTensor()
    {
        var (layer, x) = TorchRandom.Seeded(1, () => (nn.Linear(4, 3), randn(6, 4)));
        using var disposeLayer = layer;
        // Agreeing: passes.
        KernelCheck.Verify(layer, () => nn.Linear(4, 3), (m, dtype) => m.call(x.to(dtype)).square().mean(), "a linear layer");
        // A loss off by 50% in float32.
        var e = Assert.Throws<NumericalFailureException>(() =>
            KernelCheck.Verify(layer, () => nn.Linear(4, 3), (m, dtype) => m.call(x.to(dtype)).square().mean() * (dtype == float32 ? 1.5 : 1.0), "a linear layer"));
        Assert.StartsWith("this machine's kernels compute a linear layer wrongly: loss", e.Message);
        // The same loss, but a float32 weight gradient that is not: (w − w) adds 0 with slope 1.
        e = Assert.Throws<NumericalFailureException>(() =>
            KernelCheck.Verify(layer, () => nn.Linear(4, 3), (m, dtype) =>
            {
                Tensor l = m.call(x.to(dtype)).square().mean();
                return dtype == float32 ? l + (m.weight! - m.weight!.detach()).sum() : l;
            }, "a linear layer"));
        Assert.StartsWith("this machine's kernels compute a linear layer wrongly: gradient of 'weight' off by", e.Message);
    }
}
