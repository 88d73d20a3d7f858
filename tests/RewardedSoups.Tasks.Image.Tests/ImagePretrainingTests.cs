using RewardedSoups.Checkpoints;
using RewardedSoups.Tasks.Image;

namespace RewardedSoups.Tests;

[Collection(TinyInitFixture.Collection)]
public sealed class ImagePretrainingTests(TinyInitFixture init)
{
    [Fact]
    public void Pretrain_Tiny_ClassifierIsFarAboveChanceOnTheTestImages()
    {
        Assert.InRange(init.Result.ClassifierAccuracy, 0.6, 1.0);   // chance is 0.1
        using FashionClassifier reloaded = FashionClassifier.Load(init.Result.ClassifierPath);
        Assert.Equal(init.Result.ClassifierAccuracy, reloaded.Accuracy(FashionMnist.Load(FashionMnistSplit.Test)));
    }

    [Fact]
    public void Pretrain_WritesModelClassifierAndQuality_AndIsNotRedone()
    {
        using (Checkpoint model = Checkpoint.Open(init.Result.ModelPath))
        {
            Assert.Equal(ImageModel.Kind, model.Metadata["rs.kind"]);
            Assert.Equal("8", model.Metadata["rs.channels"]);
        }
        Assert.True(File.Exists(Path.Combine(init.Folder, ImagePretraining.QualityFile)));
        Assert.Equal(10, init.Result.Quality.FidelityPerPrompt.Length);
        Assert.InRange(init.Result.Quality.Fidelity, 0.0, 1.0);
        byte[] before = File.ReadAllBytes(init.Result.ModelPath);
        ImagePretrainResult again = ImagePretraining.Run(init.Folder, TinyInitFixture.Spec);
        Assert.True(again.Resumed);
        Assert.Equal(init.Result.Quality.Fidelity, again.Quality.Fidelity);
        Assert.Equal(before, File.ReadAllBytes(init.Result.ModelPath));
    }

    [Fact]
    public void Pretrain_TrainsAnIndependentChecker_AnotherSeed_FarAboveChance()
    {
        string checkerPath = Assert.IsType<string>(init.Result.CheckerPath);
        Assert.Equal(Path.Combine(init.Folder, ImagePretraining.CheckerFile), checkerPath);
        using (Checkpoint checker = Checkpoint.Open(checkerPath))
        using (Checkpoint classifier = Checkpoint.Open(init.Result.ClassifierPath))
        {
            Assert.Equal(ImagePretraining.CheckerSeed(TinyInitFixture.Spec.Seed).ToString(System.Globalization.CultureInfo.InvariantCulture), checker.Metadata["rs.seed"]);
            Assert.NotEqual(classifier.Metadata["rs.seed"], checker.Metadata["rs.seed"]);
        }
        Assert.NotEqual(File.ReadAllBytes(init.Result.ClassifierPath), File.ReadAllBytes(checkerPath));
        using FashionClassifier reloaded = FashionClassifier.Load(checkerPath);
        double accuracy = reloaded.Accuracy(FashionMnist.Load(FashionMnistSplit.Test));
        Assert.InRange(accuracy, 0.6, 1.0);
        Assert.Equal(accuracy, ImagePretraining.ReadQuality(init.Folder)!.Value.CheckerAccuracy);
        Assert.Equal(checkerPath, ImagePretraining.Run(init.Folder, TinyInitFixture.Spec).CheckerPath);
        Assert.NotEqual(ImagePretraining.CheckerSeed(1), ImagePretraining.CheckerSeed(2));
        Assert.NotEqual(1, ImagePretraining.CheckerSeed(1));
    }

    [Fact]
    public void Pretrain_FolderOfOtherSettings_IsRefused()
    {
        var other = TinyInitFixture.Spec with { Seed = 2 };
        var e = Assert.Throws<SoupInputException>(() => ImagePretraining.Run(init.Folder, other));
        Assert.Contains("holds a job with other settings", e.Message);
    }

    [Fact]
    public void DiffusionTraining_LossDecreases()
    {
        FashionMnistSet data = FashionMnist.Load(FashionMnistSplit.Test);
        var losses = new List<double>();
        var settings = new ImagePretrainSettings { Channels = 8, Steps = 200, Batch = 32, LearningRate = 3e-3 };
        using DiffusionUNet model = ImagePretraining.Train(data, settings, seed: 3, p => losses.Add(p.Loss));
        // Logged every 100 steps: the mean of steps 101–200 is well below that of steps 1–100, which starts at ≈ 1 (ε̂ = 0).
        Assert.Equal(2, losses.Count);
        Assert.True(losses[1] < 0.8 * losses[0], $"losses {losses[0]} → {losses[1]}");
        Assert.True(losses[1] < 0.5, $"loss {losses[1]} is not below the ε̂ = 0 baseline");
    }
}
