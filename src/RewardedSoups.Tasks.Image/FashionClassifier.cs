using System.Globalization;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// The small CNN that judges images: conv(1→16) → ReLU → max-pool → conv(16→32) → ReLU → max-pool →
/// linear(32·7·7 → 128) → ReLU → linear(128 → 10). It is trained once on the real training images
/// and then frozen: the <c>fidelity</c> reward and the quality measure of every model are its
/// probability of the prompted class. Inputs are images <c>[b, 1, 28, 28]</c> in [-1, 1], as the
/// diffusion model's.
/// </summary>
public sealed class FashionClassifier : nn.Module
{
    public const string Kind = "image-classifier";

#pragma warning disable IDE1006
    private readonly Sequential features;
    private readonly Sequential head;
#pragma warning restore IDE1006

    /// <summary>Convolutions through libtorch's im2col + BLAS kernels, never oneDNN's: see <see cref="ConvolutionKernels"/>.</summary>
    static FashionClassifier() => ConvolutionKernels.UseReferenceKernels();

    public FashionClassifier() : base(nameof(FashionClassifier))
    {
        features = nn.Sequential(
            ("0", nn.Conv2d(1, 16, 3, padding: 1)), ("1", nn.ReLU()), ("2", nn.MaxPool2d(2)),
            ("3", nn.Conv2d(16, 32, 3, padding: 1)), ("4", nn.ReLU()), ("5", nn.MaxPool2d(2)));
        head = nn.Sequential(("0", nn.Linear(32 * 7 * 7, 128)), ("1", nn.ReLU()), ("2", nn.Linear(128, FashionMnist.Classes)));
        RegisterComponents();
    }

    /// <summary>Logits <c>[b, 10]</c>.</summary>
    public Tensor Logits(Tensor images) => head.call(features.call(images).flatten(1));

    /// <summary>Class probabilities <c>[n, 10]</c> of images given as <c>[n × 784]</c> values in [0, 1], without gradients.</summary>
    /// <summary>The top class of image <paramref name="i"/> in probabilities laid out as <see cref="Probabilities"/> returns them.</summary>
    public static int TopClass(ReadOnlySpan<float> probabilities, int i)
    {
        ReadOnlySpan<float> p = probabilities.Slice(i * FashionMnist.Classes, FashionMnist.Classes);
        int top = 0;
        for (int c = 1; c < p.Length; c++)
            if (p[c] > p[top]) top = c;
        return top;
    }

    public float[] Probabilities(ReadOnlySpan<float> pixels01, int count)
    {
        if (count == 0) return [];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        eval();
        Tensor x = tensor(pixels01.ToArray(), [count, 1, FashionMnist.Side, FashionMnist.Side]) * 2 - 1;
        return nn.functional.softmax(Logits(x), 1).contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// Trains on random minibatches of the training split (Adam, <paramref name="steps"/> steps of
    /// <paramref name="batch"/>), deterministic under <paramref name="seed"/>.
    /// </summary>
    public static FashionClassifier Train(FashionMnistSet data, int steps, int batch, double learningRate, int seed, Action<int, double>? onStep = null, CancellationToken cancel = default)
    {
        var model = TorchRandom.Seeded(seed, () => new FashionClassifier());
        model.train();
        var generator = new Generator(unchecked((ulong)seed) ^ 0xC1A55UL);
        CheckKernels(model);
        using var optimizer = KeptAliveAdam.Adam(model.parameters(), lr: learningRate);
        for (int step = 1; step <= steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            using ScalarGuard.Span guard = ScalarGuard.Enter();
            using var scope = NewDisposeScope();
            (Tensor x, Tensor y) = Batch(data, randint(data.Count, [batch], dtype: int64, generator: generator));
            Tensor loss = nn.functional.cross_entropy(model.Logits(x), y);
            int at = step;
            // No clipping (∞): the gradient norm is only measured, to stop on a non-finite one.
            double value = OptimiserStep.Apply(optimizer, loss, model.parameters(), double.PositiveInfinity, () => $"classifier step {at}");
            onStep?.Invoke(step, value);
        }
        model.eval();
        return model;
    }

    /// <summary>Checks that this machine computes the classifier right (logits and gradients against float64, see <see cref="KernelCheck"/>).</summary>
    public static void CheckKernels(FashionClassifier model)
    {
        KernelCheck.Verify(model, () => new FashionClassifier(), (m, dtype) =>
        {
            var generator = new Generator(0x5EED_C1A5UL);
            Tensor x = randn([4, 1, FashionMnist.Side, FashionMnist.Side], generator: generator).to(dtype);   // [4, 1, 28, 28]
            return nn.functional.cross_entropy(m.Logits(x), tensor(new long[] { 0, 3, 6, 9 }));
        }, "the image classifier");
    }

    /// <summary>Fraction of <paramref name="data"/> classified correctly.</summary>
    public double Accuracy(FashionMnistSet data)
    {
        eval();
        int correct = 0;
        const int chunk = 1000;
        for (int start = 0; start < data.Count; start += chunk)
        {
            int n = Math.Min(chunk, data.Count - start);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using Scalar first = start.ToScalar(), end = (start + n).ToScalar();
            (Tensor x, Tensor y) = Batch(data, arange(first, end, dtype: int64));
            correct += (int)Logits(x).argmax(1).eq(y).sum().item<long>();
        }
        return correct / (double)data.Count;
    }

    /// <summary>Images <c>[b, 1, 28, 28]</c> in [-1, 1] and labels <c>[b]</c> for item indices <c>[b]</c>.</summary>
    internal static (Tensor Images, Tensor Labels) Batch(FashionMnistSet data, Tensor indices)
    {
        long[] idx = indices.data<long>().ToArray();
        var pixels = new byte[idx.Length * FashionMnist.Pixels];
        var labels = new long[idx.Length];
        for (int i = 0; i < idx.Length; i++)
        {
            data.Image((int)idx[i]).CopyTo(pixels.AsSpan(i * FashionMnist.Pixels));
            labels[i] = data.Labels[idx[i]];
        }
        return (Diffusion.ToImages(pixels, idx.Length), tensor(labels));
    }

    public void Save(string path, int seed, int steps, double testAccuracy) =>
        TrainedCheckpoint.Write(path, ModuleTensors.Export(this), new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["rs.kind"] = Kind,
            ["rs.task"] = ImageTask.Name,
            ["rs.seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["rs.steps"] = steps.ToString(CultureInfo.InvariantCulture),
            ["rs.test_accuracy"] = testAccuracy.ToString("R", CultureInfo.InvariantCulture),
        });

    /// <summary>Loads a classifier file; a wrong kind of file or a missing tensor is a one-line error.</summary>
    public static FashionClassifier Load(string path)
    {
        using Checkpoint checkpoint = Checkpoint.Open(path);
        if (checkpoint.Metadata.GetValueOrDefault("rs.kind") != Kind)
            throw new SoupInputException($"{path}: not an image classifier (metadata rs.kind = '{checkpoint.Metadata.GetValueOrDefault("rs.kind")}')");
        var model = TorchRandom.Shared(() => new FashionClassifier());
        ModuleTensors.Import(model, checkpoint);
        model.eval();
        return model;
    }
}
