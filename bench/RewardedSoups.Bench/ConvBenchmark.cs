using System.Diagnostics;
using System.Globalization;
using RewardedSoups.Learning;
using static TorchSharp.torch;

namespace RewardedSoups.Bench;

/// <summary>
/// What the image task's convolution fix costs, and why it is needed, in one run: every convolution of the
/// U-Net of base width C (its shapes, batch B) run forward and backward with libtorch's reference kernels
/// (what the product uses, <see cref="ConvolutionKernels"/>) and with oneDNN's JIT kernels, alternated;
/// each checked against the same convolution in float64. Reported per kind: the best time of one U-Net's
/// convolutions, and the largest relative error of an input or weight gradient. On the AMD EPYC (Zen 5)
/// machines where oneDNN is wrong its error is O(1); where it is right, the ratio is the price of safety.
/// Usage: RewardedSoups.Bench conv [--channels 16] [--batch 64] [--runs 5] [--threads 1]
/// </summary>
public static class ConvBenchmark
{
    public static int Run(string[] args)
    {
        int channels = int.Parse(Program.Option(args, "--channels", "16"), CultureInfo.InvariantCulture);
        int batch = int.Parse(Program.Option(args, "--batch", "64"), CultureInfo.InvariantCulture);
        int runs = int.Parse(Program.Option(args, "--runs", "5"), CultureInfo.InvariantCulture);
        set_num_threads(int.Parse(Program.Option(args, "--threads", "1"), CultureInfo.InvariantCulture));
        random.manual_seed(1);
        int c = channels;
        // (in, out, kernel, stride, side) of every convolution of DiffusionUNet(C) on 28×28 images.
        (int In, int Out, int K, int S, int Hw)[] shapes =
        [
            (1, c, 3, 1, 28), (c, c, 3, 1, 28), (c, c, 3, 1, 28), (c, c, 3, 2, 28), (c, 2 * c, 3, 1, 14), (c, 2 * c, 1, 1, 14),
            (2 * c, 2 * c, 3, 1, 14), (2 * c, 2 * c, 3, 1, 14), (2 * c, 2 * c, 3, 1, 14), (4 * c, 2 * c, 3, 1, 14), (2 * c, 2 * c, 3, 1, 14),
            (4 * c, 2 * c, 1, 1, 14), (3 * c, c, 3, 1, 28), (c, c, 3, 1, 28), (3 * c, c, 1, 1, 28), (c, 1, 3, 1, 28),
        ];
        var inputs = shapes.Select(s => (X: randn(batch, s.In, s.Hw, s.Hw), W: randn(s.Out, s.In, s.K, s.K) * 0.1, B: randn(s.Out) * 0.1)).ToList();
        var times = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var errors = new Dictionary<bool, double> { [false] = 0, [true] = 0 };
        try
        {
            for (int r = 0; r <= runs; r++)
            {
                foreach (bool oneDnn in new[] { false, true })
                {
                    ConvolutionKernels.SetOneDnnForBenchmark(oneDnn);
                    var clock = Stopwatch.StartNew();
                    for (int i = 0; i < shapes.Length; i++)
                        errors[oneDnn] = Math.Max(errors[oneDnn], Pass(inputs[i].X, inputs[i].W, inputs[i].B, shapes[i].S, shapes[i].K / 2, check: r == 0));
                    if (r > 0) times[oneDnn].Add(clock.Elapsed.TotalMilliseconds);   // run 0 warms up and checks
                }
            }
        }
        finally
        {
            ConvolutionKernels.SetOneDnnForBenchmark(false);
        }
        double reference = times[false].Min(), onednn = times[true].Min();
        Console.WriteLine();
        Console.WriteLine($"U-Net C={channels}, batch {batch}: {shapes.Length} convolutions forward + backward; {get_num_threads()} libtorch thread(s); best of {runs}");
        Console.WriteLine("| kernels | ms per U-Net's convolutions (best) | largest relative gradient error vs float64 |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| reference (im2col + BLAS, used) | {reference:F1} | {errors[false]:G3} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| oneDNN JIT | {onednn:F1} | {errors[true]:G3} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reference / oneDNN time: **{reference / onednn:F2}**"));
        return 0;
    }

    /// <summary>One convolution forward and backward; with <paramref name="check"/>, the largest relative error of its gradients against float64.</summary>
    private static double Pass(Tensor x, Tensor w, Tensor b, int stride, int padding, bool check)
    {
        using var scope = NewDisposeScope();
        Tensor xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_();
        Tensor y = nn.functional.conv2d(xg, wg, b, strides: [stride, stride], padding: [padding, padding]);
        (y * y).sum().backward();
        if (!check) return 0;
        Tensor x64 = x.to(float64).requires_grad_(), w64 = w.to(float64).requires_grad_();
        Tensor y64 = nn.functional.conv2d(x64, w64, b.to(float64), strides: [stride, stride], padding: [padding, padding]);
        (y64 * y64).sum().backward();
        double Relative(Tensor got, Tensor want) =>
            (got.to(float64) - want).abs().max().item<double>() / (want.abs().max().item<double>() + 1e-30);
        double error = Math.Max(Relative(xg.grad!, x64.grad!), Relative(wg.grad!, w64.grad!));
        return double.IsNaN(error) ? double.PositiveInfinity : error;
    }
}
