using System.Globalization;
using RewardedSoups.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>
/// An always-on check that this machine's kernels compute a model right: one loss and its gradients in
/// float32 against a float64 twin holding the same weights. Wrong kernels (see <see cref="ConvolutionKernels"/>)
/// are off by O(1) or NaN; float32 rounding is 1e-5 relative. A trainer calls it once before its first
/// step, on a small batch: it uses its own random generator and leaves weights, gradients and every random
/// stream of the training as they were, so a run's numbers are the same with or without it.
/// </summary>
public static class KernelCheck
{
    /// <summary>Largest accepted |g32 − g64| per tensor, relative to that tensor's largest |g64|.</summary>
    public const double RelativeTolerance = 1e-2;

    /// <summary>
    /// Throws <see cref="NumericalFailureException"/> naming the first tensor whose float32 gradient (or the
    /// loss) disagrees with float64. <paramref name="makeTwin"/> builds a module of the same architecture (the
    /// global random state it draws from is restored after); <paramref name="loss"/> computes a scalar loss
    /// of a module for inputs of the given dtype, deterministically.
    /// </summary>
    public static void Verify<TModule>(TModule model, Func<TModule> makeTwin, Func<TModule, ScalarType, Tensor> loss, string what) where TModule : nn.Module
    {
        using var scope = NewDisposeScope();
        using TModule twin = TorchRandom.Shared(() =>
        {
            Tensor rngState = torch.random.get_rng_state();
            TModule made = makeTwin();
            torch.random.set_rng_state(rngState);
            return made;
        });
        twin.load_state_dict(model.state_dict());
        twin.to(float64);
        Dictionary<string, Tensor> grads32 = Gradients(model, m => loss(m, float32), out double loss32);
        Dictionary<string, Tensor> grads64 = Gradients(twin, m => loss(m, float64), out double loss64);
        if (!(Math.Abs(loss32 - loss64) <= RelativeTolerance * Math.Abs(loss64) + 1e-6))
            throw Fault(what, $"loss {Format(loss32)} where float64 gives {Format(loss64)}");
        Dictionary<string, double> scales = grads64.ToDictionary(g => g.Key, g => g.Value.abs().max().item<double>());
        double largest = scales.Values.DefaultIfEmpty(0).Max();
        foreach ((string name, Tensor g64) in grads64)
        {
            Tensor g32 = grads32[name].to(float64);
            double error = (g32 - g64).abs().max().item<double>();
            double scale = scales[name];
            if (!(error <= RelativeTolerance * scale + 1e-7 * largest))
                throw Fault(what, $"gradient of '{name}' off by {Format(error)} (largest float64 value {Format(scale)})");
        }
    }

    /// <summary>The gradients of every parameter (cloned) and the loss; the module's gradients are cleared after.</summary>
    private static Dictionary<string, Tensor> Gradients<TModule>(TModule module, Func<TModule, Tensor> loss, out double value) where TModule : nn.Module
    {
        module.zero_grad();
        Tensor l = loss(module);
        value = l.to(float64).item<double>();
        l.backward();
        var grads = new Dictionary<string, Tensor>();
        foreach ((string name, TorchSharp.Modules.Parameter p) in module.named_parameters())
            if (p.grad is Tensor g) grads[name] = g.detach().clone();
        module.zero_grad();
        return grads;
    }

    private static NumericalFailureException Fault(string what, string detail) =>
        new($"this machine's kernels compute {what} wrongly: {detail} against a float64 reference (see docs/images.md, 'Convolutions')");

    private static string Format(double x) => x.ToString("G4", CultureInfo.InvariantCulture);
}
