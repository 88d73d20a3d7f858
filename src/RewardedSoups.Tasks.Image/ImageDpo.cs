using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// Diffusion-DPO on the round's own images (Wallace et al., 2023, "Diffusion model alignment using direct
/// preference optimization", with preferences from the reward instead of people), the third trainer of
/// <see cref="ImageFineTune"/> (<c>trainer: dpo</c>). Each prompt's K images (the evaluation's deterministic
/// sampler) are ranked by reward and paired rank i of the better half with rank K/2 + i of the worse (ties
/// dropped). For a pair (winner w, loser l) with one timestep and one noise draw, ℓ(x) the guided denoising loss
/// and ℓ_ref that of the frozen init, the loss is −log σ(−β [(ℓθ(w) − ℓ_ref(w)) − (ℓθ(l) − ℓ_ref(l))]): lower the
/// winner's denoising loss relative to the init's and raise the loser's, bounded once the margin is won (so it
/// does not keep pushing away from the worse images, which drives the centred reward-weighted trainer to blank
/// images without its anchor). β = <see cref="ImageFineTuneSettings.DpoBeta"/>.
/// </summary>
internal static class ImageDpo
{
    /// <summary>Adam on the DPO loss over minibatches of the round's pairs; returns the mean loss.</summary>
    internal static double Fit(DiffusionUNet model, DiffusionUNet reference, RoundSamples samples, FashionMnistSet? anchor, ImageFineTuneSettings s, int seed, int round, CancellationToken cancel)
    {
        int k = s.ImagesPerPrompt, half = k / 2;
        var winners = new List<long>();
        var losers = new List<long>();
        for (int p = 0; p < FashionMnist.Classes; p++)
        {
            int[] order = Enumerable.Range(p * k, k).OrderByDescending(i => samples.Rewards[i]).ThenBy(i => i).ToArray();
            for (int i = 0; i < half; i++)
                if (samples.Rewards[order[i]] > samples.Rewards[order[half + i]])
                {
                    winners.Add(order[i]);
                    losers.Add(order[half + i]);
                }
        }
        if (winners.Count == 0) return 0;   // every image of every prompt scored alike: no preference to learn
        int n = samples.Rewards.Length, pairs = winners.Count;
        using var images = tensor(samples.Pixels, [n, 1, FashionMnist.Side, FashionMnist.Side]) * 2 - 1;   // [n, 1, 28, 28] in [-1, 1]
        using var w = tensor(winners.ToArray());                                                        // [pairs]
        using var l = tensor(losers.ToArray());                                                         // [pairs]
        double guidance = s.Sampler.Guidance;
        return ImageFineTune.Optimise(model, anchor, s, seed, round, (_, generator) =>
        {
            int b = Math.Min(s.Batch, pairs);
            Tensor idx = randint(pairs, [b], dtype: int64, generator: generator);
            Tensor both = cat([w.index_select(0, idx), l.index_select(0, idx)], 0);                    // [2b]: winners, then losers
            Tensor x0 = images.index_select(0, both);                                                  // [2b, 1, 28, 28]
            Tensor y = floor_divide(both, k);                                                          // [2b] the prompt
            Tensor t = randint(Diffusion.Timesteps, [b], dtype: int64, generator: generator).repeat(2);   // one draw per pair
            Tensor noise = randn([b, 1, FashionMnist.Side, FashionMnist.Side], generator: generator).repeat(2, 1, 1, 1);
            Tensor mine = Diffusion.GuidedLoss(model, x0, y, guidance, t, noise);                     // [2b]: winners, then losers
            Tensor theirs;
            using (no_grad()) theirs = Diffusion.GuidedLoss(reference, x0, y, guidance, t, noise);
            return Loss(mine, theirs, s.DpoBeta);
        }, cancel);
    }

    /// <summary>
    /// −log σ(−β [(ℓθ(w) − ℓ_ref(w)) − (ℓθ(l) − ℓ_ref(l))]) averaged over pairs, from denoising losses <c>[2b]</c>
    /// of the trained and the reference model, winners first, losers second.
    /// </summary>
    internal static Tensor Loss(Tensor mine, Tensor reference, double beta)
    {
        long b = mine.shape[0] / 2;
        Tensor gap = mine - reference;                                                                 // [2b]
        return -nn.functional.logsigmoid(-beta * (gap.narrow(0, 0, b) - gap.narrow(0, b, b))).mean();
    }
}
