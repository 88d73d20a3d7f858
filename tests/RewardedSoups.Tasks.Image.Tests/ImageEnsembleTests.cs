using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Image;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>The image ensemble: the denoiser's prediction Σ λᵢ ε̂ᵢ at every DDIM step.</summary>
[Collection(TinyInitFixture.Collection)]
public sealed class ImageEnsembleTests(TinyInitFixture init)
{
    private static readonly SamplerSettings Sampler = new() { Steps = 4, Guidance = 3 };

    private static DiffusionUNet Perturbed(string path, int seed)
    {
        DiffusionUNet model = ImageModel.Load(path);
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var p in model.parameters()) p.add_(randn(p.shape, generator: generator) * 0.05);
        return model;
    }

    [Fact]
    public void OneMember_AndAModelWithItself_SampleExactlyAsTheModelAlone()
    {
        using DiffusionUNet model = ImageModel.Load(init.Result.ModelPath);
        int[] prompts = [1, 4, 9], indices = [0, 1, 2];
        float[] alone = DdimSampler.Sample(model, prompts, indices, 5, Sampler);
        Assert.Equal(alone, DdimSampler.Sample([(model, 1.0)], prompts, indices, 5, Sampler));
        // ½ε + ½ε is ε exactly in binary floating point: the ensemble of a model with itself is that model.
        Assert.Equal(alone, DdimSampler.Sample([(model, 0.5), (model, 0.5)], prompts, indices, 5, Sampler));
    }

    [Fact]
    public void Step_UsesTheWeightedSumOfTheMembersGuidedPredictions_ComputedByHand()
    {
        using DiffusionUNet a = ImageModel.Load(init.Result.ModelPath);
        using DiffusionUNet b = Perturbed(init.Result.ModelPath, 3);
        var one = new SamplerSettings { Steps = 1, Guidance = 2 };
        int[] prompts = [0, 6], indices = [3, 4];
        var tally = new InferenceTally();
        float[] ensemble = DdimSampler.Sample([(a, 0.25), (b, 0.75)], prompts, indices, 9, one, tally);
        Assert.Equal(2L * 2 * 1, tally.ForwardPasses);   // two members, two images, one step

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var noise = new float[2 * 784];
        for (int i = 0; i < 2; i++) DdimSampler.Noise(9, prompts[i], indices[i], noise.AsSpan(i * 784, 784));
        Tensor x = tensor(noise, [2, 1, 28, 28]), y = tensor(new long[] { 0, 6 });
        int t = DdimSampler.Times(1)[0];
        using TorchSharp.Scalar timeValue = (float)t, zero = 0f, one1 = 1f;
        Tensor time = full([2], timeValue);
        a.eval();
        b.eval();
        Tensor eps = Diffusion.Guided(a, x, time, y, 2) * 0.25 + Diffusion.Guided(b, x, time, y, 2) * 0.75;
        (Tensor mean, _) = DdimSampler.Step(x, eps, Diffusion.AlphaBar[t], 1.0, 0);
        float[] expected = ((mean + 1) * 0.5).clamp(zero, one1).contiguous().data<float>().ToArray();
        Assert.True(expected.Zip(ensemble).Max(p => Math.Abs(p.First - p.Second)) < 1e-5);
        // And it is neither member's image.
        float[] ofA = DdimSampler.Sample(a, prompts, indices, 9, one), ofB = DdimSampler.Sample(b, prompts, indices, 9, one);
        Assert.True(ofA.Zip(ensemble).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
        Assert.True(ofB.Zip(ensemble).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }
}
