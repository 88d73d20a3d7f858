using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>How images are drawn from a model.</summary>
/// <param name="Steps">DDIM steps (deterministic, η = 0); 10–20 suffice with the cosine schedule.</param>
/// <param name="GuidanceScale">Classifier-free guidance w: ε̂ = ε̂(∅) + w·(ε̂(y) − ε̂(∅)); 1 is the plain conditional model, 0 the unconditional one.</param>
public sealed record SamplerSettings(int Steps = 10, double GuidanceScale = 3.0)
{
    public void Validate()
    {
        if (Steps < 1 || Steps > Diffusion.Timesteps)
            throw new SoupInputException($"sampler steps must be in [1, {Diffusion.Timesteps}], got {Steps}");
        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0 || GuidanceScale > 20)
            throw new SoupInputException($"guidance scale must be in [0, 20], got {GuidanceScale}");
    }
}

/// <summary>
/// Deterministic DDIM (Song et al., 2021, η = 0) with classifier-free guidance (Ho &amp; Salimans, 2022).
/// Every image's starting noise is a function of (seed, prompt, index) alone (<see cref="Noise"/>),
/// computed in .NET rather than drawn from libtorch, so two models sampled with one seed start from
/// the very same noise: "same seed, different λ" compares soups on equal terms, and a result never
/// depends on the batch it was drawn in.
/// </summary>
public static class DdimSampler
{
    /// <summary>
    /// Images <c>[n × 784]</c> in [0, 1] (0 = background) for classes <paramref name="prompts"/> with noise
    /// indices <paramref name="indices"/>; one batched pass of the U-Net per step (conditional and
    /// unconditional halves together).
    /// </summary>
    public static float[] Sample(DiffusionUNet model, IReadOnlyList<int> prompts, IReadOnlyList<int> indices, int seed, SamplerSettings settings)
    {
        if (prompts.Count != indices.Count) throw new ArgumentException("one noise index per prompt");
        int n = prompts.Count;
        if (n == 0) return [];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool training = model.training;
        model.eval();
        try
        {
            var noise = new float[n * FashionMnist.Pixels];
            for (int i = 0; i < n; i++)
            {
                if (prompts[i] < 0 || prompts[i] >= FashionMnist.Classes) throw new SoupInputException($"prompt class {prompts[i]} is not 0–9");
                Noise(seed, prompts[i], indices[i], noise.AsSpan(i * FashionMnist.Pixels, FashionMnist.Pixels));
            }
            Tensor x = tensor(noise, [n, 1, FashionMnist.Side, FashionMnist.Side]);
            Tensor y = tensor(prompts.Select(p => (long)p).ToArray());
            bool guided = settings.GuidanceScale != 1.0;
            // Conditional half first, unconditional second: [2n]
            Tensor yy = guided ? cat([y, full([n], DiffusionUNet.NullClass, dtype: int64)], 0) : y;
            int[] times = Times(settings.Steps);
            for (int k = 0; k < times.Length; k++)
            {
                double ab = Diffusion.AlphaBar[times[k]];
                double abPrev = k + 1 < times.Length ? Diffusion.AlphaBar[times[k + 1]] : 1.0;
                Tensor eps;
                if (guided)
                {
                    Tensor both = model.Forward(cat([x, x], 0), full([2 * n], (float)times[k]), yy);   // [2n, 1, 28, 28]
                    Tensor cond = both.narrow(0, 0, n), uncond = both.narrow(0, n, n);
                    eps = uncond + settings.GuidanceScale * (cond - uncond);
                }
                else
                {
                    eps = model.Forward(x, full([n], (float)times[k]), y);
                }
                // Predicted clean image, clipped to the data range; ε re-derived from it so the step stays consistent.
                Tensor x0 = ((x - Math.Sqrt(1 - ab) * eps) / Math.Sqrt(ab)).clamp(-1, 1);
                eps = (x - Math.Sqrt(ab) * x0) / Math.Sqrt(1 - ab);
                x = Math.Sqrt(abPrev) * x0 + Math.Sqrt(1 - abPrev) * eps;
            }
            Tensor pixels = ((x + 1) * 0.5).clamp(0, 1).contiguous();
            return pixels.data<float>().ToArray();
        }
        finally
        {
            model.train(training);
        }
    }

    /// <summary>The DDIM timesteps, from T−1 down to 0, evenly spaced.</summary>
    public static int[] Times(int steps)
    {
        if (steps == 1) return [Diffusion.Timesteps - 1];
        var times = new int[steps];
        for (int k = 0; k < steps; k++) times[k] = (int)Math.Round((Diffusion.Timesteps - 1) * (steps - 1 - k) / (double)(steps - 1));
        return times;
    }

    /// <summary>
    /// The standard-normal starting noise of image (seed, prompt, index): SplitMix64 seeded by a mix of
    /// the three, Box–Muller pairs. Pure .NET arithmetic, the same on every machine and library version.
    /// </summary>
    public static void Noise(int seed, int prompt, int index, Span<float> destination)
    {
        ulong state = Mix(Mix(Mix(0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed) ^ (ulong)(uint)prompt) ^ (ulong)(uint)index);
        for (int i = 0; i < destination.Length; i += 2)
        {
            // Two uniforms in (0, 1]: 53 random bits each.
            double u1 = ((Next(ref state) >> 11) + 1) * (1.0 / 9007199254740992.0);
            double u2 = (Next(ref state) >> 11) * (1.0 / 9007199254740992.0);
            double r = Math.Sqrt(-2 * Math.Log(u1));
            destination[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < destination.Length) destination[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }

    private static ulong Next(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
