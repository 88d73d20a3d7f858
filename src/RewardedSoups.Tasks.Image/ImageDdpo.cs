using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// DDPO's importance-sampled policy gradient (Black et al., 2023, "Training diffusion models with reinforcement
/// learning", DDPO_IS), the second trainer of <see cref="ImageFineTune"/> (<c>trainer: ddpo</c>). The round's
/// images are drawn with stochastic DDIM (η = <see cref="ImageFineTuneSettings.Eta"/>), so each denoising step
/// k is a Gaussian policy x_{k+1} ~ N(μθ(x_k, t_k, y), σ_k² I) over the guided prediction, and the sampler
/// keeps every state (<see cref="DdimSampler.SampleTrajectory"/>). Each image's advantage is its reward
/// z-scored among its prompt's K images (DDPO's per-prompt stat tracking), clipped to ±
/// <see cref="ImageFineTuneSettings.AdvantageClip"/>, and shared by all its steps. The update minimises
/// PPO's clipped surrogate E[max(−A·ρ, −A·clip(ρ, 1 ± ε))] with ρ = exp(log πθ − log π_old) per step, log π the
/// Gaussian log-density averaged over the pixels (constants cancel in ρ), on minibatches of
/// <see cref="ImageFineTuneSettings.Batch"/> trajectories at one step (the step's σ and ᾱ are scalars):
/// every (trajectory, step) pair once per pass, passes repeated while
/// <see cref="ImageFineTuneSettings.StepsPerRound"/> Adam steps last (PPO's epochs: steps · batch / (10K · (S − 1))).
/// Trained steps: 1 … S − 3 (0-based). The last step (k = S − 1, to ᾱ = 1) is deterministic, not a policy step. Two stochastic steps
/// are left out on purpose, because their log-density's sensitivity to ε̂, |∂μ/∂ε̂| / σ, is 30 to 3,500 times
/// the others' (about 1–2 at every step between, for 6, 10 or 20 sampler steps): the first (k = 0: ᾱ(999) ≈ 4e-5, so
/// x̂₀ = (x − √(1−ᾱ) ε̂)/√ᾱ divides by 0.006 and is mostly clipped) and the second-last (k = S − 2, to t = 0: σ ≈ 0.006). Measured
/// with them in, their gradients set Adam's scale, the other steps' signal was lost and the images drifted
/// lighter whatever the reward (docs/images.md). The anchor term applies as for the reward-weighted trainer.
/// </summary>
internal static class ImageDdpo
{
    /// <summary>The PPO updates of one round on its trajectories; returns the mean loss.</summary>
    internal static double Fit(DiffusionUNet model, RoundSamples samples, FashionMnistSet? anchor, ImageFineTuneSettings s, int seed, int round, CancellationToken cancel)
    {
        float[][] states = samples.States ?? throw new ArgumentException("DDPO needs the sampler's trajectories");
        int n = samples.Rewards.Length, lastStep = samples.Times.Length - 3;
        int[] labels = Enumerable.Range(0, n).Select(i => i / s.ImagesPerPrompt).ToArray();
        float clip = (float)s.AdvantageClip;
        using var advantages = tensor(samples.Advantages.Select(a => Math.Clamp(a, -clip, clip)).ToArray());   // [n]
        using var y = tensor(labels.Select(l => (long)l).ToArray());                                         // [n]
        var stateTensors = states.Select(st => tensor(st, [n, 1, FashionMnist.Side, FashionMnist.Side])).ToArray();   // [S + 1] × [n, 1, 28, 28]
        // The behaviour policy's log-probabilities, recorded by the sampler: [S − 1] × [n].
        var old = samples.LogProbabilities!.Select(l => tensor(l)).ToArray();
        try
        {
            // Minibatches: (step k, Batch trajectories), every pair once per pass, in shuffled order.
            var units = new List<(int Step, long[] Indices)>();
            var shuffle = new Random(unchecked(seed * 31 + round));
            double ppoLoss = ImageFineTune.Optimise(model, anchor, s, seed, round, (_, _) =>
            {
                if (units.Count == 0) units = Pass(n, lastStep, s.Batch, shuffle);
                (int k, long[] indices) = units[^1];
                units.RemoveAt(units.Count - 1);
                Tensor idx = tensor(indices);
                Tensor ratio = exp(LogProbability(model, stateTensors, y, samples.Times, k, idx, s) - old[k].index_select(0, idx));
                return ClippedSurrogate(ratio, advantages.index_select(0, idx), s.ClipRange);
            }, cancel);
            return ppoLoss;
        }
        finally
        {
            foreach (Tensor t in stateTensors.Concat(old)) t.Dispose();
        }
    }

    /// <summary>PPO's clipped surrogate to minimise, mean of max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)) over ratios ρ <c>[b]</c> and advantages A <c>[b]</c>.</summary>
    internal static Tensor ClippedSurrogate(Tensor ratio, Tensor advantages, double clipRange)
    {
        using Scalar low = (1 - clipRange).ToScalar(), high = (1 + clipRange).ToScalar();
        return maximum(-advantages * ratio, -advantages * ratio.clamp(low, high)).mean();
    }

    /// <summary>
    /// log πθ(x_{k+1} | x_k) of trajectories <paramref name="idx"/> at step k, up to a constant: −‖x_{k+1} − μθ‖² / (2σ²)
    /// averaged over the pixels <c>[b]</c>.
    /// </summary>
    internal static Tensor LogProbability(DiffusionUNet model, Tensor[] states, Tensor labels, int[] times, int k, Tensor idx, ImageFineTuneSettings s)
    {
        Tensor x = states[k].index_select(0, idx), next = states[k + 1].index_select(0, idx);   // [b, 1, 28, 28]
        using Scalar time = ((float)times[k]).ToScalar();
        Tensor eps = Diffusion.Guided(model, x, full([idx.shape[0]], time), labels.index_select(0, idx), s.Sampler.Guidance);
        (Tensor mean, double sigma) = DdimSampler.Step(x, eps, Diffusion.AlphaBar[times[k]], DdimSampler.AlphaBarAfter(times, k), s.Eta);
        return -(next - mean).square().mean([1, 2, 3]) / (2 * sigma * sigma);
    }

    /// <summary>
    /// One pass over every (step, trajectory) pair of the trained steps 1 … <paramref name="lastStep"/>: for each step
    /// the trajectories shuffled and cut into minibatches, all minibatches shuffled.
    /// </summary>
    private static List<(int Step, long[] Indices)> Pass(int n, int lastStep, int batch, Random random)
    {
        var units = new List<(int, long[])>();
        for (int k = 1; k <= lastStep; k++)
        {
            long[] order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
            random.Shuffle(order);
            for (int start = 0; start < n; start += batch) units.Add((k, order[start..Math.Min(n, start + batch)]));
        }
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(units));
        return units;
    }
}
