using System.Runtime.CompilerServices;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>One real tiny pre-training (classifier + diffusion model on the real images), shared by the tests that need an init.</summary>
public sealed class TinyInitFixture : IDisposable
{
    /// <summary>The collection of the tests sharing one init (pre-trained once per test run).</summary>
    public const string Collection = "tiny init";

    public TinyInitFixture()
    {
        Dir = new TempDir();
        Folder = Dir.File("init");
        Result = ImagePretraining.Run(Folder, Spec);
    }

    public static ImagePretrainSpec Spec => new(ImageTaskSettings.Tiny.Pretrain, Seed: 1, ImageTaskSettings.Tiny.Sampler);

    public TempDir Dir { get; }

    public string Folder { get; }

    public ImagePretrainResult Result { get; }

    public void Dispose() => Dir.Dispose();
}

internal static class TestThreads
{
    /// <summary>
    /// One libtorch thread: on the shared 2-core machines, two OpenMP threads competing with other
    /// processes ran these small models 3–5 times slower than one (measured with bench `image --threads`).
    /// </summary>
    [ModuleInitializer]
    internal static void OneThread() => TorchSharp.torch.set_num_threads(1);
}

[CollectionDefinition(TinyInitFixture.Collection)]
public sealed class TinyInitCollection : ICollectionFixture<TinyInitFixture>;
