using System.Buffers.Binary;
using System.IO.Compression;
using RewardedSoups.Environments;
using RewardedSoups.Tasks.Image;

namespace RewardedSoups.Tests;

[Collection(TinyInitFixture.Collection)]
public sealed class ImageRewardsTests(TinyInitFixture init)
{
    [Fact]
    public void Terms_FidelityIsTheClassProbability_LightnessOneMinusInk_MinimalismGatedByRecognition()
    {
        using FashionClassifier classifier = FashionClassifier.Load(init.Result.ClassifierPath);
        FashionMnistSet test = FashionMnist.Load(FashionMnistSplit.Test);
        // A blank canvas, a full one, a grey one, and a real test image prompted as its own class and as another.
        var pixels = new float[5 * 784];
        Array.Fill(pixels, 1f, 784, 784);
        Array.Fill(pixels, 0.25f, 2 * 784, 784);
        float[] real = test.Pixels.Take(784).Select(b => b / 255f).ToArray();
        real.CopyTo(pixels, 3 * 784);
        real.CopyTo(pixels, 4 * 784);
        int label = test.Labels[0], other = (label + 5) % 10;
        int[] prompts = [0, 3, 5, label, other];
        var predicted = new int[5];
        double[] terms = ImageRewards.Terms(classifier, pixels, prompts, predicted);
        float[] p = classifier.Probabilities(pixels, 5);
        double realLightness = 1 - real.Sum() / 784.0;
        double[] lightness = [1.0, 0.0, 0.75, realLightness, realLightness];
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(p[i * 10 + prompts[i]], terms[i * 3], 6);
            Assert.Equal(lightness[i], terms[i * 3 + 2], 5);
            int top = Enumerable.Range(0, 10).MaxBy(c => p[i * 10 + c]);
            Assert.Equal(top, predicted[i]);
            // Minimalism is lightness while the classifier's top class is the prompt, 0 otherwise.
            Assert.Equal(top == prompts[i] ? lightness[i] : 0, terms[i * 3 + 1], 5);
        }
        // The real image is recognised as its own class (the tiny classifier knows the first test image), not as another:
        // the same pixels earn their lightness as minimalism only when prompted as what they show.
        Assert.Equal(label, predicted[3]);
        Assert.Equal(realLightness, terms[3 * 3 + 1], 5);
        Assert.Equal(0, terms[4 * 3 + 1]);
        Assert.Equal(1.0, p.Take(10).Sum(), 4);
    }

    [Fact]
    public void Fidelity_RealTestImagesOfTheirOwnClass_ScoreFarAboveOtherClasses()
    {
        using FashionClassifier classifier = FashionClassifier.Load(init.Result.ClassifierPath);
        FashionMnistSet test = FashionMnist.Load(FashionMnistSplit.Test);
        const int n = 200;
        float[] pixels = test.Pixels.Take(n * 784).Select(b => b / 255f).ToArray();
        int[] own = test.Labels.Take(n).Select(l => (int)l).ToArray();
        int[] wrong = own.Select(l => (l + 5) % 10).ToArray();
        double ownMean = Enumerable.Range(0, n).Average(i => ImageRewards.Terms(classifier, pixels, own)[3 * i]);
        double wrongMean = Enumerable.Range(0, n).Average(i => ImageRewards.Terms(classifier, pixels, wrong)[3 * i]);
        Assert.True(ownMean > 0.5 && wrongMean < 0.1, $"own {ownMean:F3}, other {wrongMean:F3}");
    }

    [Fact]
    public void Reward_NamedAndScalarised_WeighTheTerms()
    {
        RewardFunction fidelity = ImageRewards.Reward("fidelity"), minimalism = ImageRewards.Reward("minimalism");
        RewardFunction morl = RewardFunction.Scalarise([fidelity, minimalism], [0.25, 0.75]);
        double[] scores = ImageRewards.Scores(morl, [0.8, 0.4, 0.9, 0.2, 0, 1.0]);
        Assert.Equal(0.25 * 0.8 + 0.75 * 0.4, scores[0], 12);
        Assert.Equal(0.25 * 0.2 + 0.75 * 0, scores[1], 12);
        Assert.Equal([0.9, 1.0], ImageRewards.Scores(ImageRewards.Reward("lightness=1"), [0.8, 0.4, 0.9, 0.2, 0, 1.0]));
        Assert.Equal(["fidelity", "minimalism", "lightness"], ImageRewards.TermNames);
        Assert.Equal(["fidelity", "minimalism"], ImageRewards.Names);
        var e = Assert.Throws<SoupInputException>(() => ImageRewards.Reward("contrast"));
        Assert.Equal("reward 'contrast': unknown reward term 'contrast'; this task has: fidelity, minimalism, lightness", e.Message);
    }
}

public sealed class ImageGridTests
{
    [Fact]
    public void Png_IsAValidGreyImageOfTheGridSize_InkDarkOnWhite()
    {
        float[] blank = new float[784], ink = Enumerable.Repeat(1f, 784).ToArray();
        byte[] png = ImageGrid.Png([blank, ink, blank], columns: 2, scale: 2, gap: 1);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal(2 * 56 + 3, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));   // IHDR width
        Assert.Equal(2 * 56 + 3, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));   // IHDR height
        // Decode the single IDAT and check a pixel of each image and of the gap.
        int idat = IndexOf(png, "IDAT"u8.ToArray());
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat - 4));
        using var inflate = new ZLibStream(new MemoryStream(png, idat + 4, length), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        inflate.CopyTo(raw);
        byte[] rows = raw.ToArray();
        int stride = 1 + 115;
        Assert.Equal(115 * stride, rows.Length);
        byte Pixel(int x, int y) => rows[y * stride + 1 + x];
        Assert.Equal(255, Pixel(10, 10));          // blank image: white
        Assert.Equal(0, Pixel(1 + 56 + 1 + 10, 10)); // full ink: black
        Assert.Equal(160, Pixel(0, 0));            // gap
        (byte[] pixels, int w, int h) = ImageGrid.Render([blank], 1, 1, 0);
        Assert.Equal((28, 28), (w, h));
        Assert.All(pixels, p => Assert.Equal(255, p));
    }

    [Fact]
    public void Png_BadArguments_AreOneLineErrors()
    {
        Assert.Equal("a grid needs at least one image", Assert.Throws<SoupInputException>(() => ImageGrid.Png([], 2)).Message);
        Assert.Equal("grid image 0 has 10 values, not 784", Assert.Throws<SoupInputException>(() => ImageGrid.Png([new float[10]], 2)).Message);
        Assert.Equal("grid columns must be ≥ 1, got 0", Assert.Throws<SoupInputException>(() => ImageGrid.Png([new float[784]], 0)).Message);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }
}
