using System.Buffers.Binary;
using System.IO.Compression;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tests.Fixtures;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // libtorch already uses every core; tests share the env var too

namespace RewardedSoups.Tests;

public sealed class FashionMnistTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(FashionMnistSplit.Train, 60000)]
    [InlineData(FashionMnistSplit.Test, 10000)]
    public void Load_RealFiles_HaveTheCountsAndTenBalancedClasses(FashionMnistSplit split, int count)
    {
        FashionMnistSet set = FashionMnist.Load(split);
        Assert.Equal(count, set.Count);
        Assert.Equal(count * 784, set.Pixels.Length);
        int[] perClass = new int[10];
        foreach (byte label in set.Labels) perClass[label]++;
        Assert.All(perClass, n => Assert.Equal(count / 10, n));
        // Garments on a black background: a minority of the pixels is ink, none of the images is empty.
        double ink = set.Pixels.Average(p => p / 255.0);
        Assert.InRange(ink, 0.2, 0.4);
        Assert.All(Enumerable.Range(0, 100), i => Assert.True(set.Image(i).IndexOfAnyExcept((byte)0) >= 0));
    }

    [Fact]
    public void Load_UncompressedCopy_ReadsTheSameImages()
    {
        WriteRawTestSplit(_dir.Path);
        FashionMnistSet raw = FashionMnist.Load(FashionMnistSplit.Test, _dir.Path);
        FashionMnistSet debian = FashionMnist.Load(FashionMnistSplit.Test);
        Assert.Equal(debian.Pixels, raw.Pixels);
        Assert.Equal(debian.Labels, raw.Labels);
    }

    [Fact]
    public void Load_TruncatedImages_IsOneLineNamingTheFile()
    {
        WriteRawTestSplit(_dir.Path);
        string images = _dir.File("t10k-images-idx3-ubyte");
        byte[] bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..^784]);
        var e = Assert.Throws<SoupInputException>(() => FashionMnist.Load(FashionMnistSplit.Test, _dir.Path));
        Assert.Contains(images, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Load_TruncatedGzip_IsAnErrorNamingTheFile()
    {
        string labels = _dir.File("t10k-labels-idx1-ubyte.gz");
        byte[] gz = File.ReadAllBytes(Path.Combine(FashionMnist.DebianFolder, "t10k-labels-idx1-ubyte.gz"));
        File.WriteAllBytes(labels, gz[..(gz.Length / 2)]);
        File.Copy(Path.Combine(FashionMnist.DebianFolder, "t10k-images-idx3-ubyte.gz"), _dir.File("t10k-images-idx3-ubyte.gz"));
        var e = Assert.Throws<SoupInputException>(() => FashionMnist.Load(FashionMnistSplit.Test, _dir.Path));
        Assert.Contains(labels, e.Message);
    }

    [Fact]
    public void Load_WrongMagicOrDimensionOrLabel_SaysWhich()
    {
        WriteRawTestSplit(_dir.Path);
        string labels = _dir.File("t10k-labels-idx1-ubyte");
        byte[] original = File.ReadAllBytes(labels);

        byte[] swapped = (byte[])original.Clone();
        BinaryPrimitives.WriteInt32BigEndian(swapped, 0x0803);
        File.WriteAllBytes(labels, swapped);
        Assert.Contains("magic 0x00000803, expected 0x00000801", Assert.Throws<SoupInputException>(() => FashionMnist.Load(FashionMnistSplit.Test, _dir.Path)).Message);

        byte[] count = (byte[])original.Clone();
        BinaryPrimitives.WriteInt32BigEndian(count.AsSpan(4), 9999);
        File.WriteAllBytes(labels, count);
        Assert.Contains("dimension 0 is 9999, expected 10000", Assert.Throws<SoupInputException>(() => FashionMnist.Load(FashionMnistSplit.Test, _dir.Path)).Message);

        byte[] label = (byte[])original.Clone();
        label[8 + 5] = 10;
        File.WriteAllBytes(labels, label);
        Assert.Contains("label 10 of item 5", Assert.Throws<SoupInputException>(() => FashionMnist.Load(FashionMnistSplit.Test, _dir.Path)).Message);
    }

    [Fact]
    public void Load_MissingFileOrFolder_SaysHowToInstall()
    {
        Assert.Contains("t10k-images-idx3-ubyte.gz: missing", Assert.Throws<SoupInputException>(() => FashionMnist.Load(FashionMnistSplit.Test, _dir.Path)).Message);
        string missing = _dir.File("nowhere");
        Environment.SetEnvironmentVariable(FashionMnist.FolderVariable, missing);
        try
        {
            Assert.Equal($"{FashionMnist.FolderVariable}={missing}: no such folder", Assert.Throws<SoupInputException>(() => FashionMnist.Folder()).Message);
            Environment.SetEnvironmentVariable(FashionMnist.FolderVariable, _dir.Path);
            Assert.Equal(_dir.Path, FashionMnist.Folder());
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.FolderVariable, null);
        }
    }

    [Fact]
    public void Prompts_NameEveryClass_AndUnknownPromptListsThem()
    {
        Assert.Equal(10, FashionMnist.ClassNames.Count);
        Assert.Equal(10, FashionMnist.Prompts.Distinct().Count());
        Assert.Equal(7, FashionMnist.PromptIndex("a sneaker"));
        Assert.Equal(9, FashionMnist.PromptIndex("Ankle boot"));
        var e = Assert.Throws<SoupInputException>(() => FashionMnist.PromptIndex("a hat"));
        Assert.Contains("'a hat'", e.Message);
        Assert.Contains("'an ankle boot'", e.Message);
    }

    /// <summary>Decompressed copies of Debian's test split, to damage.</summary>
    private static void WriteRawTestSplit(string folder)
    {
        foreach (string name in new[] { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
        {
            using var input = new GZipStream(File.OpenRead(Path.Combine(FashionMnist.DebianFolder, name + ".gz")), CompressionMode.Decompress);
            using var output = File.Create(Path.Combine(folder, name));
            input.CopyTo(output);
        }
    }
}
