using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// The forward process and its loss: Nichol &amp; Dhariwal's cosine schedule over
/// <see cref="Timesteps"/> = 1000 steps, ᾱ(t) = f(t+1)/f(0) with f(t) = cos²((t/T + s)/(1 + s)·π/2),
/// s = 0.008, βₜ clipped at 0.999. The cosine schedule keeps ᾱ informative at large t, which is what
/// a 10–20-step DDIM sampler needs. Images live in [-1, 1] (0 ink ↦ -1).
/// </summary>
public static class Diffusion
{
    public const int Timesteps = 1000;

    /// <summary>ᾱₜ for t = 0 … T-1 (float64, decreasing from ≈ 1 to ≈ 0).</summary>
    public static double[] AlphaBar { get; } = CosineAlphaBar();

    private static double[] CosineAlphaBar()
    {
        const double s = 0.008;
        static double F(double t) => Math.Pow(Math.Cos((t / Timesteps + s) / (1 + s) * Math.PI / 2), 2);
        var alphaBar = new double[Timesteps];
        double product = 1;
        for (int t = 0; t < Timesteps; t++)
        {
            double beta = Math.Min(1 - F(t + 1) / F(t), 0.999);
            product *= 1 - beta;
            alphaBar[t] = product;
        }
        return alphaBar;
    }

    /// <summary>Bytes 0–255 <c>[n × 784]</c> → images <c>[n, 1, 28, 28]</c> in [-1, 1].</summary>
    public static Tensor ToImages(ReadOnlySpan<byte> pixels, int count)
    {
        var values = new float[count * FashionMnist.Pixels];
        for (int i = 0; i < values.Length; i++) values[i] = pixels[i] / 127.5f - 1f;
        return tensor(values, [count, 1, FashionMnist.Side, FashionMnist.Side]);
    }

    /// <summary>
    /// The denoising loss per example <c>[b]</c>: ‖ε − ε̂(√ᾱₜ x₀ + √(1−ᾱₜ) ε, t, y)‖² averaged over pixels, with
    /// t uniform in [0, T) and ε ~ N(0, I) drawn from <paramref name="generator"/>; labels are replaced by
    /// the null class with probability <paramref name="labelDropout"/> (what classifier-free guidance needs).
    /// </summary>
    public static Tensor Loss(DiffusionUNet model, Tensor x0, Tensor labels, double labelDropout, Generator generator)
    {
        long b = x0.shape[0];
        Tensor t = randint(Timesteps, [b], dtype: int64, generator: generator);                     // [b], uniform in [0, T)
        Tensor noise = randn(x0.shape, generator: generator);                                      // [b, 1, 28, 28]
        Tensor xt = Noised(x0, t, noise);
        using Scalar dropout = labelDropout.ToScalar();
        Tensor drop = rand([b], generator: generator) < dropout;                                    // [b] bool
        Tensor y = where(drop, full_like(labels, DiffusionUNet.NullLabel), labels);
        Tensor predicted = model.Forward(xt, t.to(float32), y);
        return (predicted - noise).square().mean([1, 2, 3]);                                          // [b]
    }

    /// <summary>
    /// The denoising loss of the guided prediction ε̂(∅) + w·(ε̂(y) − ε̂(∅)) per example <c>[b]</c>: the noise
    /// predictor the guided sampler actually integrates. Fine-tuning on self-generated (guided) samples
    /// fits this one, not the conditional branch alone: fitting ε̂(y) to guided samples and then guiding
    /// it again by w compounds the guidance, and the samples drift (over-saturate) even with no selection.
    /// With w = 1 it is <see cref="Loss"/> without label dropout.
    /// </summary>
    public static Tensor GuidedLoss(DiffusionUNet model, Tensor x0, Tensor labels, double guidance, Generator generator)
    {
        long b = x0.shape[0];
        Tensor t = randint(Timesteps, [b], dtype: int64, generator: generator);                     // [b]
        Tensor noise = randn(x0.shape, generator: generator);                                      // [b, 1, 28, 28]
        return GuidedLoss(model, x0, labels, guidance, t, noise);
    }

    /// <summary>As above at given timesteps <c>[b]</c> (int64) and noise <c>[b, 1, 28, 28]</c>: what compares two models, or two images, on the same draw.</summary>
    public static Tensor GuidedLoss(DiffusionUNet model, Tensor x0, Tensor labels, double guidance, Tensor t, Tensor noise)
    {
        return (Guided(model, Noised(x0, t, noise), t.to(float32), labels, guidance) - noise).square().mean([1, 2, 3]);   // [b]
    }

    /// <summary>
    /// The guided noise prediction ε̂(∅) + w·(ε̂(y) − ε̂(∅)) <c>[b, 1, 28, 28]</c> for noisy images <c>[b, 1, 28, 28]</c>,
    /// timesteps <c>[b]</c> (float) and classes <c>[b]</c>: the conditional and unconditional halves in one
    /// batched pass; w = 1 is the conditional model alone (one pass).
    /// </summary>
    public static Tensor Guided(DiffusionUNet model, Tensor xt, Tensor t, Tensor labels, double guidance)
    {
        if (guidance == 1.0) return model.Forward(xt, t, labels);
        long b = xt.shape[0];
        Tensor both = model.Forward(cat([xt, xt], 0), cat([t, t], 0), cat([labels, full_like(labels, DiffusionUNet.NullLabel)], 0));   // [2b, 1, 28, 28]
        Tensor cond = both.narrow(0, 0, b), uncond = both.narrow(0, b, b);
        return uncond + guidance * (cond - uncond);
    }

    /// <summary>x_t = √ᾱₜ x₀ + √(1−ᾱₜ) ε for timesteps <c>[b]</c> and noise <c>[b, 1, 28, 28]</c>.</summary>
    private static Tensor Noised(Tensor x0, Tensor t, Tensor noise)
    {
        Tensor alphaBar = tensor(AlphaBar, dtype: float32).index_select(0, t).view(-1, 1, 1, 1);   // [b, 1, 1, 1]
        return alphaBar.sqrt() * x0 + (1 - alphaBar).sqrt() * noise;
    }
}
