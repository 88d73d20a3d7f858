using RewardedSoups.Learning;
using RewardedSoups.Tasks.Image;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>
/// The U-Net's and the classifier's convolutions against float64, at every shape they use. On AMD EPYC
/// (Zen 5) machines libtorch's oneDNN kernels got these wrong (O(1) errors, NaN gradients, at random
/// places); these tests failed there before <see cref="ConvolutionKernels"/> and pass after.
/// </summary>
public sealed class ConvolutionTests
{
    /// <summary>(in, out, kernel, stride, side) of every convolution of a U-Net with base channels C, in forward order.</summary>
    private static (int In, int Out, int Kernel, int Stride, int Side)[] UNetConvolutions(int c) =>
    [
        (1, c, 3, 1, 28),                                                  // conv_in
        (c, c, 3, 1, 28), (c, c, 3, 1, 28),                                // down0
        (c, c, 3, 2, 28),                                                  // downsample
        (c, 2 * c, 3, 1, 14), (2 * c, 2 * c, 3, 1, 14), (c, 2 * c, 1, 1, 14),            // down1 (+ skip)
        (2 * c, 2 * c, 3, 1, 14), (2 * c, 2 * c, 3, 1, 14),                // mid
        (4 * c, 2 * c, 3, 1, 14), (2 * c, 2 * c, 3, 1, 14), (4 * c, 2 * c, 1, 1, 14),    // up1 (+ skip)
        (3 * c, c, 3, 1, 28), (c, c, 3, 1, 28), (3 * c, c, 1, 1, 28),      // up0 (+ skip)
        (c, 1, 3, 1, 28),                                                  // conv_out
        (1, 16, 3, 1, 28), (16, 32, 3, 1, 14),                             // the classifier
    ];

    [Theory]
    [InlineData(8, 32)]    // fashion-tiny's U-Net and batch
    [InlineData(16, 16)]   // the built-in U-Net's channels
    public void Convolutions_AtEveryShape_MatchFloat64_ForwardAndBackward(int channels, int batch)
    {
        using var model = TorchRandom.Shared(() => new DiffusionUNet(channels));   // selects the convolution kernels, as every image code path does
        Assert.False(ConvolutionKernels.OneDnnEnabled);
        var generator = new Generator(11);
        var failures = new List<string>();
        for (int repeat = 0; repeat < 3; repeat++)
        {
            foreach ((int cin, int cout, int k, int stride, int side) in UNetConvolutions(channels))
            {
                using var scope = NewDisposeScope();
                // conv_out's weight starts at zero: the input gradient must then be exactly 0, not NaN.
                bool zero = cout == 1 && repeat == 0;
                Tensor x = randn([batch, cin, side, side], generator: generator).requires_grad_();
                Tensor w = (zero ? zeros(cout, cin, k, k) : randn([cout, cin, k, k], generator: generator) * 0.2).requires_grad_();
                Tensor b = (randn([cout], generator: generator) * 0.1).requires_grad_();
                Tensor y = nn.functional.conv2d(x, w, b, strides: [stride, stride], padding: [k / 2, k / 2]);
                Tensor upstream = randn(y.shape, generator: generator);
                (y * upstream).sum().backward();
                Tensor x64 = x.detach().to(float64).requires_grad_(), w64 = w.detach().to(float64).requires_grad_();
                Tensor y64 = nn.functional.conv2d(x64, w64, b.detach().to(float64), strides: [stride, stride], padding: [k / 2, k / 2]);
                (y64 * upstream.to(float64)).sum().backward();
                string shape = $"conv {cin}→{cout} k{k} s{stride} at {side}² (batch {batch}, repeat {repeat})";
                Compare(y, y64, $"{shape}: output", failures);
                Compare(x.grad!, x64.grad!, $"{shape}: input gradient", failures);
                Compare(w.grad!, w64.grad!, $"{shape}: weight gradient", failures);
                if (zero && x.grad!.abs().max().item<float>() != 0) failures.Add($"{shape}: input gradient not exactly 0 under a zero weight");
            }
            // The upsampling transposed convolution, 2C → 2C, 4×4, stride 2: 14² → 28².
            using (NewDisposeScope())
            {
                Tensor x = randn([batch, 2 * channels, 14, 14], generator: generator).requires_grad_();
                Tensor w = (randn([2 * channels, 2 * channels, 4, 4], generator: generator) * 0.1).requires_grad_();
                Tensor y = nn.functional.conv_transpose2d(x, w, strides: [2, 2], padding: [1, 1]);
                Tensor upstream = randn(y.shape, generator: generator);
                (y * upstream).sum().backward();
                Tensor x64 = x.detach().to(float64).requires_grad_(), w64 = w.detach().to(float64).requires_grad_();
                Tensor y64 = nn.functional.conv_transpose2d(x64, w64, strides: [2, 2], padding: [1, 1]);
                (y64 * upstream.to(float64)).sum().backward();
                Compare(y, y64, $"transposed conv (repeat {repeat}): output", failures);
                Compare(x.grad!, x64.grad!, $"transposed conv (repeat {repeat}): input gradient", failures);
                Compare(w.grad!, w64.grad!, $"transposed conv (repeat {repeat}): weight gradient", failures);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    /// <summary>float32 within 1e-4 of float64, relative to the largest float64 magnitude (rounding is ~1e-6; the fault was ~1).</summary>
    private static void Compare(Tensor single, Tensor reference, string what, List<string> failures)
    {
        double error = (single.to(float64) - reference).abs().max().item<double>();
        double scale = reference.abs().max().item<double>();
        if (!(error <= 1e-4 * scale + 1e-9)) failures.Add($"{what}: max |error| {error:G3} against float64 (scale {scale:G3})");
    }

    [Fact]
    public void FreshUNet_FirstBackward_EveryGradientBelowTheZeroConvOut_IsExactlyZero()
    {
        // conv_out starts at zero, so no gradient reaches anything below it: exact zeros on any CPU whose kernels are right.
        using var model = TorchRandom.Seeded(5, () => new DiffusionUNet(8));
        var generator = new Generator(3);
        FashionMnistSet data = FashionMnist.Load(FashionMnistSplit.Test);
        (Tensor x, Tensor y) = FashionClassifier.Batch(data, randint(data.Count, [32], dtype: int64, generator: generator));
        Diffusion.Loss(model, x, y, 0.1, generator).mean().backward();
        foreach ((string name, TorchSharp.Modules.Parameter p) in model.named_parameters())
        {
            double largest = p.grad!.abs().max().item<float>();
            if (name.StartsWith("conv_out.", StringComparison.Ordinal)) Assert.True(largest > 0, $"{name}: no gradient");
            else Assert.True(largest == 0, $"{name}: gradient {largest} where it must be exactly 0");
        }
    }

    [Fact]
    public void KernelCheck_OnTrainedAndFreshModels_Passes_AndLeavesWeightsGradientsAndRandomStateAlone()
    {
        // Under the gate from start to end: no other test's draw can move the random state being compared.
        using var model = TorchRandom.Seeded(9, () => new DiffusionUNet(8));
        TorchRandom.Shared(() =>
        {
            using (no_grad())
                foreach (var p in model.parameters()) p.add_(randn(p.shape) * 0.05);   // a "trained" model: conv_out no longer zero
            using var classifier = new FashionClassifier();
            byte[] before = ModuleTensors.Export(model).SelectMany(t => t.Data).ToArray();
            byte[] state = torch.random.get_rng_state().bytes.ToArray();
            DiffusionUNet.CheckKernels(model);
            FashionClassifier.CheckKernels(classifier);
            Assert.Equal(before, ModuleTensors.Export(model).SelectMany(t => t.Data).ToArray());
            Assert.Equal(state, torch.random.get_rng_state().bytes.ToArray());   // the twins' initialisation drew nothing the training would
            return 0;
        });
        Assert.All(model.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
    }
}
