using RewardedSoups.Numerics;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// Every image trainer stops on a non-finite loss or gradient norm with one line naming the place, and
/// leaves no model behind. The NaN is injected the way a real divergence happens: a learning rate of
/// 1e30 sends Adam's first step to weights of ~1e30, whose next forward pass overflows.
/// </summary>
[Collection(TinyInitFixture.Collection)]
public sealed class DivergenceTests(TinyInitFixture init) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Pretraining_Diverging_StopsAtItsStep_WithOneLine()
    {
        FashionMnistSet data = FashionMnist.Load(FashionMnistSplit.Test);
        var settings = new ImagePretrainSettings { Channels = 8, Steps = 20, Batch = 8, LearningRate = 1e30 };
        var e = Assert.Throws<NumericalFailureException>(() => ImagePretraining.Train(data, settings, seed: 3));
        Assert.Matches(@"^training diverged: (loss|gradient norm) (NaN|-?∞|-?Infinity) at pretrain step \d+$", e.Message);
    }

    [Fact]
    public void Classifier_Diverging_StopsAtItsStep_WithOneLine()
    {
        FashionMnistSet data = FashionMnist.Load(FashionMnistSplit.Test);
        var e = Assert.Throws<NumericalFailureException>(() => FashionClassifier.Train(data, steps: 20, batch: 16, learningRate: 1e30, seed: 3));
        Assert.Matches(@"^training diverged: (loss|gradient norm) \S+ at classifier step \d+$", e.Message);
    }

    // An anchor weight of 1e38 makes the gradients' squared norm overflow float32 on the first step.
    [Theory]
    [InlineData(ImageFineTuneSettings.Rwr)]
    [InlineData(ImageFineTuneSettings.Ddpo)]
    [InlineData(ImageFineTuneSettings.Dpo)]
    public void FineTuning_Diverging_StopsInRoundOne_LeavesNoModel(string trainer)
    {
        var settings = ImageTaskSettings.Tiny.FineTune with { Trainer = trainer, Rounds = 2, ImagesPerPrompt = 4, StepsPerRound = 4, AnchorWeight = 1e38 };
        string dir = _dir.File(trainer);
        var e = Assert.Throws<NumericalFailureException>(() =>
            ImageFineTune.Run(dir, new ImageFineTuneSpec(init.Folder, ImageRewards.Reward("minimalism"), settings, Seed: 1)));
        Assert.Matches(@"^training diverged: (loss|gradient norm) \S+ at fine-tune round 1, step 1$", e.Message);
        Assert.False(File.Exists(Path.Combine(dir, ImageModel.FileName)));
        Assert.False(File.Exists(Path.Combine(dir, ImageFineTune.CheckpointFile)));
    }
}
