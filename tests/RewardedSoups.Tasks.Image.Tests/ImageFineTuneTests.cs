using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

[Collection(TinyInitFixture.Collection)]
public sealed class ImageFineTuneTests(TinyInitFixture init) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ImageFineTuneSpec Spec(string reward, ImageFineTuneSettings? settings = null) =>
        new(init.Folder, ImageRewards.Reward(reward), settings ?? ImageTaskSettings.Tiny.FineTune, Seed: 1);

    // Lightness (1 − ink, ungated) tests the trainers: a pixel reward every image earns. Until the weights were centred
    // (docs/images.md, "Fine-tuning"), this fell: tiny lightness 0.555 → 0.547.
    [Fact]
    public void FineTune_Lightness_RaisesItsOwnReward()
    {
        // Real training on a tiny budget: 3 rounds of 16 images per prompt.
        var settings = ImageTaskSettings.Tiny.FineTune with { Rounds = 3, ImagesPerPrompt = 16 };
        ImageFineTuneResult result = ImageFineTune.Run(_dir.File("lightness"), Spec("lightness=1", settings));
        Assert.Equal(480, result.ImagesGenerated);
        SamplerSettings sampler = settings.Sampler;
        double before = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, 8, seed: 21, sampler).Mean(ImageRewards.Lightness);
        double after = ImageEvaluation.Evaluate(result.ModelPath, init.Result.ClassifierPath, 8, seed: 21, sampler).Mean(ImageRewards.Lightness);
        Assert.True(after > before + 0.02, $"minimalism {before:F4} → {after:F4}");
    }

    // DDPO trains the stochastic sampler's policy; measured with that sampler (η = 1, fresh noise).
    [Fact]
    public void FineTune_Ddpo_Lightness_RaisesItsOwnReward()
    {
        var settings = ImageTaskSettings.Tiny.FineTune with { Trainer = ImageFineTuneSettings.Ddpo, Rounds = 3, ImagesPerPrompt = 16 };
        ImageFineTuneResult result = ImageFineTune.Run(_dir.File("ddpo"), Spec("lightness=1", settings));
        Assert.Equal(480, result.ImagesGenerated);
        double before = StochasticLightness(init.Result.ModelPath, settings), after = StochasticLightness(result.ModelPath, settings);
        Assert.True(after > before + 0.02, $"minimalism {before:F4} → {after:F4}");
    }

    // Diffusion-DPO against the frozen init, on the evaluation's deterministic sampler.
    [Fact]
    public void FineTune_Dpo_Lightness_RaisesItsOwnReward()
    {
        var settings = ImageTaskSettings.Tiny.FineTune with { Trainer = ImageFineTuneSettings.Dpo, Rounds = 3, ImagesPerPrompt = 16 };
        ImageFineTuneResult result = ImageFineTune.Run(_dir.File("dpo"), Spec("lightness=1", settings));
        SamplerSettings sampler = settings.Sampler;
        double before = ImageEvaluation.Evaluate(init.Result.ModelPath, init.Result.ClassifierPath, 8, seed: 21, sampler).Mean(ImageRewards.Lightness);
        double after = ImageEvaluation.Evaluate(result.ModelPath, init.Result.ClassifierPath, 8, seed: 21, sampler).Mean(ImageRewards.Lightness);
        Assert.True(after > before + 0.02, $"minimalism {before:F4} → {after:F4}");
    }

    private static double StochasticLightness(string modelPath, ImageFineTuneSettings settings)
    {
        using DiffusionUNet model = ImageModel.Load(modelPath);
        int[] prompts = Enumerable.Range(0, 80).Select(i => i / 8).ToArray(), indices = Enumerable.Range(0, 80).Select(i => i % 8).ToArray();
        float[] pixels = DdimSampler.SampleTrajectory(model, prompts, indices, seed: 21, settings.Sampler, settings.Eta).Pixels;
        return 1 - pixels.Average();
    }

    [Fact]
    public void FineTune_WritesCheckpointPerRoundAndTrainableSubset_AndFinishedIsNotRedone()
    {
        var settings = ImageTaskSettings.Tiny.FineTune with { Trainable = ["class_emb", "up0", "conv_out"] };
        string dir = _dir.File("fidelity");
        var rounds = new List<int>();
        ImageFineTuneResult result = ImageFineTune.Run(dir, Spec("fidelity", settings), p => { if (p.Phase == "fine-tune") rounds.Add(p.Step); });
        Assert.Equal([1, 2], rounds);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, ImageFineTune.LogFile)).Length - 1);
        using (Checkpoint model = Checkpoint.Open(result.ModelPath))
        {
            Assert.Equal("class_emb,up0,conv_out", model.Metadata["rs.trainable"]);
            Assert.Equal("fidelity", model.Metadata["rs.reward_name"]);
            Assert.Equal("160", model.Metadata["rs.images_generated"]);
            long trainable = long.Parse(model.Metadata["rs.trainable_parameters"]), all = long.Parse(model.Metadata["rs.parameters"]);
            Assert.InRange(trainable, 1, all / 2);
        }
        // Only the declared modules moved.
        using Checkpoint before = Checkpoint.Open(init.Result.ModelPath), after = Checkpoint.Open(result.ModelPath);
        foreach (CheckpointTensor t in before.Tensors)
        {
            bool moved = !t.File.ReadSingles(t.Info).SequenceEqual(after.Tensors.Single(u => u.Name == t.Name).File.ReadSingles(after.Tensors.Single(u => u.Name == t.Name).Info));
            bool declared = DiffusionUNet.Selected(t.Name, settings.Trainable);
            if (!declared) Assert.False(moved, $"{t.Name} moved but is not trainable");
        }
        Assert.Contains(before.Tensors, t => t.Name.StartsWith("up0.", StringComparison.Ordinal) &&
            !t.File.ReadSingles(t.Info).SequenceEqual(after.Tensors.Single(u => u.Name == t.Name).File.ReadSingles(after.Tensors.Single(u => u.Name == t.Name).Info)));

        byte[] bytes = File.ReadAllBytes(result.ModelPath);
        ImageFineTuneResult again = ImageFineTune.Run(dir, Spec("fidelity", settings));
        Assert.True(again.Resumed);
        Assert.Null(again.Last);
        Assert.Equal(bytes, File.ReadAllBytes(result.ModelPath));
        var e = Assert.Throws<SoupInputException>(() => ImageFineTune.Run(dir, Spec("lightness=1", settings)));
        Assert.Contains("holds a job with other settings", e.Message);
    }

    [Fact]
    public void FineTune_KilledAfterARound_ResumesToTheSameWeights()
    {
        var spec = Spec("fidelity=1,minimalism=1");
        ImageFineTuneResult straight = ImageFineTune.Run(_dir.File("straight"), spec);
        using var cancel = new CancellationTokenSource();
        string dir = _dir.File("killed");
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ImageFineTune.Run(dir, spec, p => { if (p.Phase == "fine-tune" && p.Step == 1) cancel.Cancel(); }, cancel.Token));
        Assert.False(File.Exists(Path.Combine(dir, ImageModel.FileName)));
        var rounds = new List<int>();
        ImageFineTuneResult resumed = ImageFineTune.Run(dir, spec, p => { if (p.Phase == "fine-tune") rounds.Add(p.Step); });
        Assert.True(resumed.Resumed);
        Assert.Equal([2], rounds);
        using Checkpoint a = Checkpoint.Open(straight.ModelPath), b = Checkpoint.Open(resumed.ModelPath);
        foreach (CheckpointTensor t in a.Tensors)
            Assert.Equal(t.File.ReadSingles(t.Info), b.Tensors.Single(u => u.Name == t.Name).File.ReadSingles(b.Tensors.Single(u => u.Name == t.Name).Info));
    }

    [Fact]
    public void FineTune_MissingInitOrUnknownTerm_IsOneLine()
    {
        var bad = new ImageFineTuneSpec(_dir.File("no-init"), ImageRewards.Reward("fidelity"), ImageTaskSettings.Tiny.FineTune, 1);
        Assert.Contains("model.safetensors: missing", Assert.Throws<SoupInputException>(() => ImageFineTune.Run(_dir.File("x"), bad)).Message);
        var unknown = Spec("fidelity") with { Reward = new RewardFunction("odd", new Dictionary<string, double> { ["sharpness"] = 1 }) };
        var e = Assert.Throws<SoupInputException>(() => ImageFineTune.Run(_dir.File("y"), unknown));
        Assert.Equal("reward 'odd': unknown reward term 'sharpness'; this task has: fidelity, minimalism, lightness", e.Message);
    }
}
