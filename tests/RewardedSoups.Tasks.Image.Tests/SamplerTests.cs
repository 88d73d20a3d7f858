using RewardedSoups.Learning;
using RewardedSoups.Soup;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

[Collection(TinyInitFixture.Collection)]
public sealed class SamplerTests(TinyInitFixture init) : IDisposable
{
    private static readonly TorchSharp.Scalar OneAndAHalf = 1.5, NullClass = DiffusionUNet.NullClass;

    private readonly TempDir _dir = new();
    private static readonly SamplerSettings Sampler = new() { Steps = 6, Guidance = 3 };

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Noise_IsAFunctionOfSeedPromptAndIndex_AndStandardNormal()
    {
        var a = new float[784];
        var b = new float[784];
        DdimSampler.Noise(5, 3, 2, a);
        DdimSampler.Noise(5, 3, 2, b);
        Assert.Equal(a, b);
        foreach ((int seed, int prompt, int index) in new[] { (6, 3, 2), (5, 4, 2), (5, 3, 3) })
        {
            DdimSampler.Noise(seed, prompt, index, b);
            Assert.NotEqual(a, b);
        }
        var many = new float[100_000];
        DdimSampler.Noise(1, 0, 0, many);
        double mean = many.Average(v => (double)v), variance = many.Average(v => (v - mean) * (v - mean));
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(variance, 0.97, 1.03);
    }

    [Fact]
    public void Times_RunFromLastToFirstTimestep()
    {
        Assert.Equal([999, 666, 333, 0], DdimSampler.Times(4));
        Assert.Equal([999], DdimSampler.Times(1));
        Assert.True(Diffusion.AlphaBar.Zip(Diffusion.AlphaBar.Skip(1)).All(p => p.Second < p.First));
        Assert.InRange(Diffusion.AlphaBar[0], 0.999, 1.0);
        Assert.InRange(Diffusion.AlphaBar[^1], 0.0, 1e-4);
    }

    [Fact]
    public void Sample_SameSeed_SameImages_IndependentOfTheBatch()
    {
        using DiffusionUNet model = ImageModel.Load(init.Result.ModelPath);
        float[][] first = ImageEvaluation.Sample(model, prompt: 7, count: 4, seed: 11, Sampler);
        float[][] again = ImageEvaluation.Sample(model, prompt: 7, count: 4, seed: 11, Sampler);
        Assert.Equal(first, again);
        float[][] third = ImageEvaluation.Sample(model, prompt: 7, count: 1, seed: 11, Sampler, firstIndex: 2);
        Assert.True(MaxDifference(first[2], third[0]) < 1e-4);                 // image 2 is image 2, alone or in a batch
        float[][] otherSeed = ImageEvaluation.Sample(model, prompt: 7, count: 4, seed: 12, Sampler);
        Assert.True(MaxDifference(first[0], otherSeed[0]) > 0.05);
        Assert.All(first, image => Assert.All(image, v => Assert.InRange(v, 0f, 1f)));
    }

    [Fact]
    public void GuidedLoss_IsTheLossOfTheGuidedPrediction()
    {
        using DiffusionUNet model = ImageModel.Load(init.Result.ModelPath);
        using var x0 = TorchRandom.Shared(() => TorchSharp.torch.rand([4, 1, 28, 28])) * 2 - 1;
        using var y = TorchSharp.torch.tensor(new long[] { 0, 3, 5, 9 });
        float[] Loss(Func<TorchSharp.torch.Generator, TorchSharp.torch.Tensor> f)
        {
            using var noGrad = TorchSharp.torch.no_grad();
            using var g = new TorchSharp.torch.Generator(7);
            return f(g).data<float>().ToArray();
        }
        // w = 1 is the plain conditional loss (same t and ε drawn first, no label dropout).
        Assert.Equal(Loss(g => Diffusion.Loss(model, x0, y, 0, g)), Loss(g => Diffusion.GuidedLoss(model, x0, y, 1, g)));
        // w = 0 is the unconditional branch's loss.
        float[] uncond = Loss(g => Diffusion.Loss(model, x0, TorchSharp.torch.full([4], NullClass, dtype: TorchSharp.torch.int64), 0, g));
        float[] guided0 = Loss(g => Diffusion.GuidedLoss(model, x0, y, 0, g));
        for (int i = 0; i < 4; i++) Assert.Equal(uncond[i], guided0[i], 5);
        // w = 3 differs from both.
        Assert.NotEqual(guided0, Loss(g => Diffusion.GuidedLoss(model, x0, y, 3, g)));
    }

    [Fact]
    public void SampleTrajectory_RepeatsPerImage_KeepsEveryState_AndItsLogProbabilitiesAreTheTrainers()
    {
        using DiffusionUNet model = ImageModel.Load(init.Result.ModelPath);
        int[] prompts = [2, 2, 5], indices = [0, 1, 0];
        DdimTrajectory a = DdimSampler.SampleTrajectory(model, prompts, indices, seed: 8, Sampler, eta: 1);
        DdimTrajectory alone = DdimSampler.SampleTrajectory(model, [5], [0], seed: 8, Sampler, eta: 1);
        Assert.True(MaxDifference(a.Pixels[(2 * 784)..], alone.Pixels) < 1e-4);                 // step noise is per image too
        Assert.Equal(Sampler.Steps + 1, a.States.Count);
        Assert.Equal(Sampler.Steps - 1, a.LogProbabilities.Count);                               // the last step is deterministic
        var start = new float[784];
        DdimSampler.Noise(8, 2, 1, start);
        Assert.Equal(start, a.States[0][784..1568]);
        float[] last = a.States[^1].Select(v => Math.Clamp((v + 1) / 2, 0f, 1f)).ToArray();
        Assert.True(MaxDifference(last, a.Pixels) < 1e-6);
        float[] deterministic = DdimSampler.Sample(model, prompts, indices, 8, Sampler);
        Assert.True(MaxDifference(deterministic, a.Pixels) > 0.05);                              // η = 1 draws other images

        // The trainer's log πθ(x_{k+1} | x_k), recomputed from the states with the same weights, is what the sampler recorded.
        var settings = ImageTaskSettings.Tiny.FineTune with { Trainer = ImageFineTuneSettings.Ddpo, Sampler = Sampler };
        TorchSharp.torch.Tensor[] states = a.States.Select(s => TorchSharp.torch.tensor(s, [3, 1, 28, 28])).ToArray();
        using var labels = TorchSharp.torch.tensor(new long[] { 2, 2, 5 });
        using TorchSharp.Scalar three = TorchSharp.ScalarExtensionMethods.ToScalar(3);
        using var all = TorchSharp.torch.arange(three, dtype: TorchSharp.torch.int64);
        using var noGrad = TorchSharp.torch.no_grad();
        for (int k = 0; k < a.LogProbabilities.Count; k++)
        {
            float[] recomputed = ImageDdpo.LogProbability(model, states, labels, a.Times, k, all, settings).data<float>().ToArray();
            for (int i = 0; i < 3; i++) Assert.Equal(a.LogProbabilities[k][i], recomputed[i], 3);
            Assert.All(a.LogProbabilities[k], v => Assert.InRange(v, -0.7, -0.3));              // −½ mean z² over 784 pixels
        }
        foreach (var t in states) t.Dispose();
        Assert.Equal("DDIM eta of a trajectory must be in (0, 1], got 0", Assert.Throws<SoupInputException>(() => DdimSampler.SampleTrajectory(model, [1], [0], 8, Sampler, 0)).Message);
    }

    [Fact]
    public void ClippedSurrogate_OnKnownNumbers()
    {
        using var ratio = TorchSharp.torch.tensor(new[] { 0.5f, 1.0f, 1.5f, 1.5f });
        using var advantages = TorchSharp.torch.tensor(new[] { 1f, -1f, 1f, -1f });
        // max(−0.5, −0.8), max(1, 1), max(−1.5, −1.2), max(1.5, 1.2): the pessimistic term of each.
        Assert.Equal((-0.5 + 1 - 1.2 + 1.5) / 4, ImageDdpo.ClippedSurrogate(ratio, advantages, 0.2).item<float>(), 6);
    }

    [Fact]
    public void DpoLoss_OnKnownNumbers()
    {
        // Winner's loss 0.1 vs the reference's 0.2, loser's 0.3 vs 0.2: margin −0.2, −log σ(10 · 0.2) = log(1 + e^−2).
        using var mine = TorchSharp.torch.tensor(new[] { 0.1f, 0.3f });
        using var reference = TorchSharp.torch.tensor(new[] { 0.2f, 0.2f });
        Assert.Equal(Math.Log(1 + Math.Exp(-2)), ImageDpo.Loss(mine, reference, 10).item<float>(), 5);
        // Equal models: log 2, whatever β.
        Assert.Equal(Math.Log(2), ImageDpo.Loss(reference, reference, 1000).item<float>(), 5);
    }

    [Fact]
    public void Sample_GuidanceChangesTheImages()
    {
        using DiffusionUNet model = ImageModel.Load(init.Result.ModelPath);
        float[] guided = ImageEvaluation.Sample(model, 1, 1, seed: 3, Sampler)[0];
        float[] plain = ImageEvaluation.Sample(model, 1, 1, seed: 3, Sampler with { Guidance = 1 })[0];
        float[] unconditional = ImageEvaluation.Sample(model, 1, 1, seed: 3, Sampler with { Guidance = 0 })[0];
        Assert.True(MaxDifference(guided, plain) > 0.01);
        Assert.True(MaxDifference(plain, unconditional) > 0.01);
    }

    [Fact]
    public void Soups_OneHotFileIsTheExpert_MixesDifferFromTheSameNoise_AndInMemoryAgreesWithMerge()
    {
        // A second "expert": the init with its output head perturbed (a real fine-tuning is tested in ImageFineTuneTests).
        string a = init.Result.ModelPath, b = _dir.File("b.safetensors");
        using (DiffusionUNet other = ImageModel.Load(a))
        {
            using (TorchSharp.torch.no_grad())
                foreach ((string name, var p) in other.named_parameters())
                    if (name.StartsWith("up0.", StringComparison.Ordinal)) p.mul_(OneAndAHalf);
            ImageModel.Save(b, other);
        }
        string oneHot = _dir.File("one-hot.safetensors"), half = _dir.File("half.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b], [0, 1], oneHot));
        StreamingMerge.Merge(new SoupRequest([a, b], [0.5, 0.5], half));

        using DiffusionUNet expertB = ImageModel.Load(b), soupB = ImageModel.Load(oneHot), soupHalf = ImageModel.Load(half), expertA = ImageModel.Load(a);
        float[] fromB = ImageEvaluation.Sample(expertB, 4, 1, seed: 9, Sampler)[0];
        Assert.Equal(fromB, ImageEvaluation.Sample(soupB, 4, 1, seed: 9, Sampler)[0]);
        float[] fromHalf = ImageEvaluation.Sample(soupHalf, 4, 1, seed: 9, Sampler)[0];
        Assert.True(MaxDifference(fromB, fromHalf) > 0.01);                   // same noise, different λ, different image

        // The app's live soup holds exactly the weights soup merge wrote (the same kernel on the same slices).
        using DiffusionUNet inMemory = ImageModel.Soup([expertA, expertB], SoupMethod.Linear.InMemory(2, [0.5, 0.5]));
        Dictionary<string, TorchSharp.torch.Tensor> live = inMemory.state_dict();
        foreach ((string name, TorchSharp.torch.Tensor written) in soupHalf.state_dict())
            Assert.Equal(written.data<float>().ToArray(), live[name].data<float>().ToArray());
        Assert.Equal(fromHalf, ImageEvaluation.Sample(inMemory, 4, 1, seed: 9, Sampler)[0]);
    }

    [Fact]
    public void Evaluate_ScoresEveryImageOfEveryPrompt()
    {
        ImageEvaluationResult result = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, samplesPerPrompt: 2, seed: 4, Sampler);
        Assert.Equal(20, result.Samples.Count);
        Assert.Equal(Enumerable.Range(0, 10).SelectMany(p => new[] { p, p }), result.Samples.Select(s => s.Prompt));
        Assert.All(result.Samples, s => Assert.All(s.Terms, v => Assert.InRange(v, 0.0, 1.0)));
        double[] minimalism = result.Rewards(ImageRewards.Reward("minimalism"));
        double[] mixed = result.Rewards(ImageRewards.Reward("fidelity=0.5,minimalism=0.5"));
        for (int i = 0; i < 20; i++)
            Assert.Equal(0.5 * result.Samples[i].Terms[0] + 0.5 * minimalism[i], mixed[i], 12);
        // The same seed draws the same images: the evaluation repeats exactly.
        ImageEvaluationResult again = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, samplesPerPrompt: 2, seed: 4, Sampler);
        Assert.Equal(result.Samples.Select(s => s.Terms[0]), again.Samples.Select(s => s.Terms[0]));
    }

    [Fact]
    public void Evaluate_WithAChecker_RecordsItsTopClass_RecognitionRateIsItsShare()
    {
        ImageEvaluationResult plain = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, samplesPerPrompt: 2, seed: 4, Sampler);
        Assert.All(plain.Samples, s => Assert.Null(s.Recognised));
        Assert.Null(plain.RecognitionRate);
        // The reward classifier as its own checker: the checked class is the predicted one, image by image.
        ImageEvaluationResult self = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, samplesPerPrompt: 2, seed: 4, Sampler,
            checkerPath: init.Result.ClassifierPath);
        Assert.Equal(self.Samples.Select(s => s.Predicted), self.Samples.Select(s => s.Checked));
        Assert.Equal(self.PromptAccuracy, self.RecognitionRate!.Value, 12);
        // The independent checker: its own verdicts, the same images and rewards.
        ImageEvaluationResult other = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, samplesPerPrompt: 2, seed: 4, Sampler,
            checkerPath: init.Result.CheckerPath);
        Assert.Equal(plain.Samples.Select(s => s.Terms[0]), other.Samples.Select(s => s.Terms[0]));
        Assert.All(other.Samples, s => Assert.InRange(s.Checked, 0, 9));
        Assert.Equal(other.Samples.Count(s => s.Checked == s.Prompt) / 20.0, other.RecognitionRate!.Value, 12);
    }

    private static double MaxDifference(float[] x, float[] y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max();
}
