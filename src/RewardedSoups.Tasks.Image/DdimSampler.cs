using System.ComponentModel.DataAnnotations;
using RewardedSoups.Learning;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// How images are drawn from a model, the <c>image.sampler</c> section: one sampler for fine-tuning rounds,
/// evaluation and the app, so the reward trained is the reward measured.
/// </summary>
public sealed record SamplerSettings : ISettingsSection
{
    /// <summary>DDIM steps (deterministic, η = 0); 10–20 suffice with the cosine schedule.</summary>
    [Range(1, Diffusion.Timesteps)]
    public int Steps { get; init; } = 10;

    /// <summary>Classifier-free guidance w: ε̂ = ε̂(∅) + w·(ε̂(y) − ε̂(∅)); 1 is the plain conditional model, 0 the unconditional one.</summary>
    [Range(0.0, 20.0)]
    public double Guidance { get; init; } = 3.0;

    /// <summary>Checks a sampler built in code like a configuration's: one line naming the key at fault.</summary>
    public void Validate() => SettingsSection.Validate(this, "image.sampler");
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
    public static float[] Sample(DiffusionUNet model, IReadOnlyList<int> prompts, IReadOnlyList<int> indices, int seed, SamplerSettings settings) =>
        Run([(model, 1.0)], prompts, indices, seed, settings, eta: 0, states: null, logProbabilities: null, tally: null);

    /// <summary>
    /// As above for an output-space ensemble of denoisers: at every step the prediction is Σ λᵢ ε̂ᵢ(x, t, y), each member's
    /// guided prediction (guidance is linear, so this is guidance applied to the combined conditional and unconditional
    /// predictions). The same starting noise as every single model's. One member with λ = 1 samples exactly as that
    /// model alone. <paramref name="tally"/> counts one pass per image, step and member (the conditional and
    /// unconditional halves are one batched pass) and times the sampling.
    /// </summary>
    public static float[] Sample(IReadOnlyList<(DiffusionUNet Model, double Weight)> members, IReadOnlyList<int> prompts, IReadOnlyList<int> indices, int seed, SamplerSettings settings,
        InferenceTally? tally = null) =>
        tally is null
            ? Run(members, prompts, indices, seed, settings, eta: 0, states: null, logProbabilities: null, tally: null)
            : tally.Time(() => Run(members, prompts, indices, seed, settings, eta: 0, states: null, logProbabilities: null, tally));

    /// <summary>
    /// Stochastic DDIM (η &gt; 0; η = 1 is DDPM's posterior variance on the DDIM grid): every step but the last
    /// draws x_{k+1} ~ N(μθ(x_k, t_k, y), σ_k² I), a Gaussian policy whose log-probability DDPO differentiates
    /// (<see cref="ImageDdpo"/>). The step noise of image (seed, prompt, index) at step k is a function of them
    /// alone, like the starting noise. Returns the images, every state x_0 … x_S (<c>[S + 1][n × 784]</c>, in
    /// [-1, 1] space, unclipped) and each stochastic step's log-probability (<see cref="DdimTrajectory"/>).
    /// </summary>
    public static DdimTrajectory SampleTrajectory(DiffusionUNet model, IReadOnlyList<int> prompts, IReadOnlyList<int> indices, int seed, SamplerSettings settings, double eta)
    {
        if (!double.IsFinite(eta) || eta <= 0 || eta > 1) throw new SoupInputException($"DDIM eta of a trajectory must be in (0, 1], got {eta}");
        var states = new List<float[]>();
        var logProbabilities = new List<float[]>();
        float[] pixels = Run([(model, 1.0)], prompts, indices, seed, settings, eta, states, logProbabilities, tally: null);
        return new DdimTrajectory(pixels, states, logProbabilities, Times(settings.Steps), eta);
    }

    /// <summary>
    /// One DDIM step from x_t (timestep with ᾱ = <paramref name="alphaBar"/>) to the previous timestep (ᾱ =
    /// <paramref name="alphaBarPrevious"/>): the predicted clean image is clipped to the data range and ε
    /// re-derived from it, then μ = √ᾱ' x̂₀ + √(1 − ᾱ' − σ²) ε and σ = η √((1 − ᾱ')/(1 − ᾱ)) √(1 − ᾱ/ᾱ')
    /// (Song et al., eq. 16). With η = 0 the step is deterministic (σ = 0); the last step (ᾱ' = 1) always is.
    /// </summary>
    public static (Tensor Mean, double Sigma) Step(Tensor x, Tensor eps, double alphaBar, double alphaBarPrevious, double eta)
    {
        double ab = alphaBar, abPrev = alphaBarPrevious;
        Tensor x0 = ((x - Math.Sqrt(1 - ab) * eps) / Math.Sqrt(ab)).clamp(Scalars.MinusOne, Scalars.One);
        Tensor e = (x - Math.Sqrt(ab) * x0) / Math.Sqrt(1 - ab);
        double sigma = eta == 0 ? 0 : eta * Math.Sqrt((1 - abPrev) / (1 - ab) * (1 - ab / abPrev));
        return (Math.Sqrt(abPrev) * x0 + Math.Sqrt(1 - abPrev - sigma * sigma) * e, sigma);
    }

    /// <summary>ᾱ after step k of an S-step sampler (1 after the last: the clean image).</summary>
    public static double AlphaBarAfter(int[] times, int k) => k + 1 < times.Length ? Diffusion.AlphaBar[times[k + 1]] : 1.0;

    private static float[] Run(IReadOnlyList<(DiffusionUNet Model, double Weight)> members, IReadOnlyList<int> prompts, IReadOnlyList<int> indices, int seed, SamplerSettings settings, double eta,
        List<float[]>? states, List<float[]>? logProbabilities, InferenceTally? tally)
    {
        if (prompts.Count != indices.Count) throw new ArgumentException("one noise index per prompt");
        if (members.Count == 0) throw new SoupInputException("sampling needs a model");
        foreach ((_, double w) in members)
            if (!(w > 0) || !double.IsFinite(w)) throw new SoupInputException($"an ensemble member's weight must be a finite number > 0, got {w}");
        bool single = members.Count == 1 && members[0].Weight == 1;
        int n = prompts.Count;
        if (n == 0) return [];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using ScalarGuard.Span guard = ScalarGuard.Enter();
        bool[] training = members.Select(m => m.Model.training).ToArray();
        foreach (var m in members) m.Model.eval();
        Tensor[] weights = members.Select(m => tensor((float)m.Weight)).ToArray();   // 0-d, in this scope
        try
        {
            var noise = new float[n * FashionMnist.Pixels];
            for (int i = 0; i < n; i++)
            {
                if (prompts[i] < 0 || prompts[i] >= FashionMnist.Classes) throw new SoupInputException($"prompt class {prompts[i]} is not 0–9");
                Noise(seed, prompts[i], indices[i], noise.AsSpan(i * FashionMnist.Pixels, FashionMnist.Pixels));
            }
            Tensor x = tensor(noise, [n, 1, FashionMnist.Side, FashionMnist.Side]);
            states?.Add((float[])noise.Clone());   // a copy: the buffer is reused for the step noise below
            Tensor y = tensor(prompts.Select(p => (long)p).ToArray());
            int[] times = Times(settings.Steps);
            for (int k = 0; k < times.Length; k++)
            {
                using Scalar time = ((float)times[k]).ToScalar();
                Tensor? eps = null;
                for (int i = 0; i < members.Count; i++)
                {
                    Tensor own = Diffusion.Guided(members[i].Model, x, full([n], time), y, settings.Guidance);
                    tally?.Add(n);
                    eps = single ? own : eps is null ? own.mul(weights[i]) : eps.add(own.mul(weights[i]));
                }
                (Tensor mean, double sigma) = Step(x, eps!, Diffusion.AlphaBar[times[k]], AlphaBarAfter(times, k), eta);
                x = mean;
                if (sigma > 0)
                {
                    int stepSeed = unchecked((int)Mix((ulong)(uint)seed ^ ((ulong)(uint)(k + 1) << 32)));
                    var logProbability = new float[n];
                    for (int i = 0; i < n; i++)
                    {
                        Span<float> z = noise.AsSpan(i * FashionMnist.Pixels, FashionMnist.Pixels);
                        Noise(stepSeed, prompts[i], indices[i], z);
                        // log N(x_{k+1}; μ, σ²I) up to a constant, averaged over pixels: x_{k+1} − μ = σz.
                        logProbability[i] = -0.5f * System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(z) / FashionMnist.Pixels;
                    }
                    logProbabilities?.Add(logProbability);
                    x = mean + sigma * tensor(noise, [n, 1, FashionMnist.Side, FashionMnist.Side]);
                }
                states?.Add(x.contiguous().data<float>().ToArray());
            }
            Tensor pixels = ((x + 1) * 0.5).clamp(Scalars.Zero, Scalars.One).contiguous();
            return pixels.data<float>().ToArray();
        }
        finally
        {
            for (int i = 0; i < members.Count; i++) members[i].Model.train(training[i]);
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

/// <summary>
/// A stochastic sampler's record (<see cref="DdimSampler.SampleTrajectory"/>): the images, the states
/// x_0 (noise) … x_S (<c>[S + 1][n × 784]</c>, [-1, 1] space), the log-probability of each stochastic step
/// under the sampling model (<c>[S − 1][n]</c>: −‖x_{k+1} − μ‖² / (2σ²) averaged over pixels; the last step is
/// deterministic) and the timesteps.
/// </summary>
public sealed record DdimTrajectory(float[] Pixels, IReadOnlyList<float[]> States, IReadOnlyList<float[]> LogProbabilities, int[] Times, double Eta);
