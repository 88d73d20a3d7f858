using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace RewardedSoups.Tasks.Image;

/// <summary>The image task's identity, as checkpoints and experiments name it.</summary>
public static class ImageTask
{
    public const string Name = "image";
}

/// <summary>
/// Pre-training of the shared init, the <c>image.pretrain</c> section: the classifier (reward model), then the
/// diffusion model. Its defaults here are the built-in preset's but for <see cref="Channels"/> and
/// <see cref="Steps"/>; a configuration's come from its preset (<see cref="ImageTaskSettings"/>).
/// </summary>
public sealed record ImagePretrainSettings : ISettingsSection
{
    /// <summary>Widest U-Net base (the large preset has 48) and largest minibatches.</summary>
    public const int MaxChannels = 256, MaxBatch = 4096;

    /// <summary>U-Net base channels C (2C at 14²); a multiple of 4 (the group norms' groups).</summary>
    [Range(4, MaxChannels)]
    public int Channels { get; init; } = 32;

    /// <summary>Adam steps of the classifier on the training split.</summary>
    [Range(1, int.MaxValue)]
    public int ClassifierSteps { get; init; } = 1500;

    /// <summary>Classifier minibatch size.</summary>
    [Range(1, MaxBatch)]
    public int ClassifierBatch { get; init; } = 128;

    /// <summary>Classifier Adam learning rate.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public double ClassifierLearningRate { get; init; } = 1e-3;

    /// <summary>
    /// Adam steps of the diffusion model on the training split: the experiment's budget (<c>pretrain.steps</c>),
    /// not a key of this section; set in code with <c>with { Steps = … }</c>.
    /// </summary>
    [JsonIgnore]
    public int Steps { get; init; } = 3000;

    /// <summary>Diffusion minibatch size.</summary>
    [Range(1, MaxBatch)]
    public int Batch { get; init; } = 64;

    /// <summary>Peak Adam learning rate of the diffusion model (linear warm-up over 5% of the steps, cosine decay to 0).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Probability of replacing a label by the null class (classifier-free guidance; 0.1 as Ho &amp; Salimans).</summary>
    [Range(0.0, 1.0, MaximumIsExclusive = true)]
    public double LabelDropout { get; init; } = 0.1;

    /// <summary>Images per prompt drawn to measure the init's quality when it is done.</summary>
    [Range(1, ImageFineTuneSettings.MaxImagesPerPrompt)]
    public int QualitySamplesPerPrompt { get; init; } = 20;

    /// <summary>The channels are a multiple of 4.</summary>
    public void Check(SettingsCheck check)
    {
        if (Channels % 4 != 0) throw check.Fail("channels", $"must be a multiple of 4, got {Channels}");
    }

    /// <summary>Checks settings built in code: the section's keys and rules, then the steps.</summary>
    public void Validate()
    {
        SettingsSection.Validate(this, "image.pretrain");
        if (Steps < 1) throw new SoupInputException($"'pretrain.steps': the image pre-training needs at least 1 step, got {Steps}");
    }
}

/// <summary>
/// Reward-weighted fine-tuning (the paper's image recipe, after Lee et al., 2023), the <c>image.fine_tune</c>
/// section: each round draws <see cref="ImagesPerPrompt"/> images per prompt from the current model, keeps the
/// better <see cref="KeepFraction"/> of each prompt's images by the reward (all by default), and fits the model to
/// them with a denoising loss weighted by each image's reward z-score (see <see cref="ImageFineTune"/>).
/// <see cref="Rounds"/> (the experiment's budget) and <see cref="Sampler"/> (the task's one sampler,
/// <c>image.sampler</c>) are not keys of the section: the family sets them.
/// </summary>
public sealed record ImageFineTuneSettings : ISettingsSection
{
    /// <summary>The paper's reward-weighted regression trainer.</summary>
    public const string Rwr = "rwr";

    /// <summary>The DDPO policy-gradient trainer.</summary>
    public const string Ddpo = "ddpo";

    /// <summary>The Diffusion-DPO trainer.</summary>
    public const string Dpo = "dpo";

    /// <summary>Most images per prompt per round (the large preset has 64) and largest minibatch (large: 64).</summary>
    public const int MaxImagesPerPrompt = 1024, MaxBatch = 4096;

    /// <summary>Fewest sampler steps DDPO trains with: it trains steps 1 … S − 3.</summary>
    public const int DdpoMinSamplerSteps = 4;

    /// <summary>The trainers by name.</summary>
    public static IReadOnlyList<string> Trainers { get; } = [Rwr, Ddpo, Dpo];

    /// <summary>
    /// Generate-select-fit rounds: the experiment's budget (<c>experts.steps</c> images, ⌈budget / (10·K)⌉ rounds),
    /// not a key of this section; set in code with <c>with { Rounds = … }</c>.
    /// </summary>
    [JsonIgnore]
    public int Rounds { get; init; } = 4;

    /// <summary>K, images generated per prompt per round (the cost: 10·K·rounds images); a selection needs at least 2.</summary>
    [Range(2, MaxImagesPerPrompt)]
    public int ImagesPerPrompt { get; init; } = 32;

    /// <summary>Share of each prompt's images fitted, the best by reward (1: all, the better half with
    /// positive weights and the worse with negative ones; the paper's 0.5 keeps only the better half).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public double KeepFraction { get; init; } = 1.0;

    /// <summary>Adam steps on the kept images per round (Adam starts afresh every round).</summary>
    [Range(1, int.MaxValue)]
    public int StepsPerRound { get; init; } = 40;

    /// <summary>Minibatch size of those steps.</summary>
    [Range(1, MaxBatch)]
    public int Batch { get; init; } = 32;

    /// <summary>Adam learning rate.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public double LearningRate { get; init; } = 5e-4;

    /// <summary>β, weight of the anchor term: the plain denoising loss on a batch of real training
    /// images added to every step (Lee et al.'s pre-training loss term), which keeps the model near the data
    /// while the reward pulls it away; 0 turns it off.</summary>
    [Range(0.0, double.MaxValue)]
    public double AnchorWeight { get; init; }

    /// <summary>Probability of the null class in the anchor term (as in pre-training, so the
    /// unconditional branch stays fitted to real images). The generated images are always fitted through the guided
    /// prediction (<see cref="Diffusion.GuidedLoss(DiffusionUNet, TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, double, TorchSharp.torch.Generator)"/>), no dropout.</summary>
    [Range(0.0, 1.0, MaximumIsExclusive = true)]
    public double LabelDropout { get; init; } = 0.1;

    /// <summary><c>rwr</c>: the paper's reward-weighted denoising fine-tuning above; <c>ddpo</c>: DDPO's
    /// importance-sampled policy gradient (Black et al., 2023) through a stochastic sampler (<see cref="ImageDdpo"/>);
    /// <c>dpo</c>: Diffusion-DPO on the better and worse halves of each prompt's images against the frozen init (<see cref="ImageDpo"/>).</summary>
    public string Trainer { get; init; } = Rwr;

    /// <summary>DDPO: DDIM η of the sampler that generates the round's images (1, DDPO's: every step a Gaussian
    /// policy with DDPM's variance); the evaluation keeps its deterministic sampler.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public double Eta { get; init; } = 1.0;

    /// <summary>DDPO: PPO clip range of the per-step likelihood ratio, whose log-probability is a mean over
    /// the 784 pixels, so ratios stay near 1. 1e-2, not DDPO's 1e-4: measured on the built-in init, 1e-4 clipped
    /// over 90% of the ratios after 10 Adam steps of a round and the reward did not rise (docs/images.md).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true, MaximumIsExclusive = true)]
    public double ClipRange { get; init; } = 1e-2;

    /// <summary>DDPO: the z-scored advantages are clipped to ±this (5, DDPO's).</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double AdvantageClip { get; init; } = 5;

    /// <summary>DPO: β, the inverse temperature of the preference margin (a difference of per-pixel mean
    /// squared errors, about 1e-3 between nearby models, so β in the thousands, as Diffusion-DPO's 2000–5000).</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double DpoBeta { get; init; } = 2000;

    /// <summary>Top-level U-Net modules trained (<see cref="DiffusionUNet.ModuleNames"/>); empty (in a configuration
    /// also <c>all</c>) trains everything. Recorded in the checkpoint.</summary>
    public IReadOnlyList<string> Trainable { get; init; } = [];

    /// <summary>How the round's images are drawn: the task's sampler (<c>image.sampler</c>), not a key of this section.</summary>
    [JsonIgnore]
    public SamplerSettings Sampler { get; init; } = new();

    /// <summary>Images kept per prompt per round: ⌈K·keep⌉, at least 1.</summary>
    [JsonIgnore]
    public int KeptPerPrompt => Math.Max(1, (int)Math.Ceiling(ImagesPerPrompt * KeepFraction));

    /// <summary>Images generated by the whole fine-tuning (its cost).</summary>
    [JsonIgnore]
    public long ImagesGenerated => (long)Rounds * ImagesPerPrompt * FashionMnist.Classes;

    /// <summary>Rounds a budget of generated images buys at K = <see cref="ImagesPerPrompt"/>: ⌈budget / (10·K)⌉, at least 1.</summary>
    public int RoundsFor(long budget)
    {
        long perRound = (long)FashionMnist.Classes * ImagesPerPrompt;
        return (int)Math.Max(1, (budget + perRound - 1) / perRound);
    }

    /// <summary>The trainer is known and every trainable module is the U-Net's.</summary>
    public void Check(SettingsCheck check)
    {
        if (!Trainers.Contains(Trainer)) throw check.Fail("trainer", $"unknown trainer '{Trainer}'; trainers: {string.Join(", ", Trainers)}");
        foreach (string module in Trainable)
            if (!DiffusionUNet.ModuleNames.Contains(module))
                throw check.Fail("trainable", $"unknown module '{module}'; 'all' or a list of: {string.Join(", ", DiffusionUNet.ModuleNames)}");
    }

    /// <summary>What is wrong with sampling this trainer's rounds with <paramref name="samplerSteps"/> DDIM steps, null if nothing.</summary>
    public string? SamplerStepsProblem(int samplerSteps) =>
        Trainer == Ddpo && samplerSteps < DdpoMinSamplerSteps
            ? $"trainer ddpo needs at least {DdpoMinSamplerSteps} (it trains steps 1 … S − 3), got {samplerSteps}"
            : null;

    /// <summary>Checks settings built in code: the section's keys and rules, then the rounds and the sampler the task set.</summary>
    public void Validate()
    {
        SettingsSection.Validate(this, "image.fine_tune");
        if (Rounds < 1) throw new SoupInputException($"'image.fine_tune': rounds must be ≥ 1, got {Rounds}");
        Sampler.Validate();
        if (SamplerStepsProblem(Sampler.Steps) is { } problem) throw new SoupInputException($"'image.sampler.steps': {problem}");
    }
}

/// <summary>
/// Every setting of the image task at one size, a preset of the <c>image</c> section (<see cref="ImageFamilySettings.Size"/>):
/// pre-training, fine-tuning, sampling, evaluation. The budgets in it (<see cref="ImagePretrainSettings.Steps"/>,
/// <see cref="ImageFineTuneSettings.Rounds"/>) are the size's own experiment's, for library callers; a run's come from its configuration.
/// </summary>
public sealed record ImageTaskSettings
{
    /// <summary>Init (classifier and diffusion model) training.</summary>
    public required ImagePretrainSettings Pretrain { get; init; }

    /// <summary>Each expert's and each MORL model's fine-tuning (its <see cref="ImageFineTuneSettings.Sampler"/> is <see cref="Sampler"/>).</summary>
    public required ImageFineTuneSettings FineTune { get; init; }

    /// <summary>How fine-tuning, evaluation and the app draw images.</summary>
    public required SamplerSettings Sampler { get; init; }

    /// <summary>Images per prompt per evaluated model.</summary>
    public required int EvalSamplesPerPrompt { get; init; }

    /// <summary>
    /// The trainable subset of the built-in fine-tunings: the prompt embedding and the last
    /// full-resolution block with the output head, 10.9% of the C = 16 U-Net's parameters (the paper
    /// fine-tuned about 10% of its diffusion model's).
    /// </summary>
    public static IReadOnlyList<string> PromptAndLastBlock { get; } = ["class_emb", "up0", "out_norm", "conv_out"];

    /// <summary>
    /// For tests and CI: pre-training, classifier and one fine-tuning together in well under a minute
    /// on 2 cores; the model is poor but real (its samples are blobs of roughly the right size).
    /// </summary>
    public static ImageTaskSettings Tiny { get; } = Preset(
        new ImagePretrainSettings { Channels = 8, ClassifierSteps = 300, ClassifierBatch = 64, Steps = 300, Batch = 32, LearningRate = 3e-3, QualitySamplesPerPrompt = 4 },
        new ImageFineTuneSettings { Rounds = 2, ImagesPerPrompt = 8, StepsPerRound = 15, Batch = 16, LearningRate = 1e-3, AnchorWeight = 1 },
        new SamplerSettings { Steps = 6 },
        evalSamplesPerPrompt: 4);

    /// <summary>
    /// The built-in experiment: about 20 minutes on 2 cores for pre-training, two experts, three MORL
    /// fine-tunings and eleven evaluated soups (measured numbers in docs/images.md).
    /// </summary>
    public static ImageTaskSettings BuiltIn { get; } = Preset(
        new ImagePretrainSettings { Channels = 16, Steps = 1200 },
        new ImageFineTuneSettings { Rounds = 6, StepsPerRound = 60, LearningRate = 3e-4, AnchorWeight = 1, Trainable = PromptAndLastBlock },
        new SamplerSettings(),
        evalSamplesPerPrompt: 20);

    /// <summary>A larger run for a machine with time to spare: longer pre-training, wider U-Net, more rounds.</summary>
    public static ImageTaskSettings Large { get; } = Preset(
        new ImagePretrainSettings { Channels = 48, ClassifierSteps = 4000, Steps = 15000, Batch = 128, LearningRate = 1e-3, QualitySamplesPerPrompt = 50 },
        new ImageFineTuneSettings { Rounds = 8, ImagesPerPrompt = 64, StepsPerRound = 80, Batch = 64, LearningRate = 3e-4, AnchorWeight = 1 },
        new SamplerSettings { Steps = 20 },
        evalSamplesPerPrompt: 50);

    /// <summary>The sizes by name.</summary>
    public static IReadOnlyList<string> SizeNames { get; } = ["tiny", "built-in", "large"];

    /// <summary>The one-line message of an unknown size, listing the names.</summary>
    public static string UnknownSize(string name) => $"unknown size '{name}'; sizes: {string.Join(", ", SizeNames)}";

    /// <summary>A size by name; an unknown one is a one-line error listing the names.</summary>
    public static ImageTaskSettings Size(string name) => name switch
    {
        "tiny" => Tiny,
        "built-in" => BuiltIn,
        "large" => Large,
        _ => throw new SoupInputException($"image task: {UnknownSize(name)}"),
    };

    /// <summary>Checks a preset: each section's keys and rules, the budgets, the sampler.</summary>
    public void Validate()
    {
        Pretrain.Validate();
        FineTune.Validate();
        Sampler.Validate();
        if (EvalSamplesPerPrompt < 1) throw new SoupInputException($"image task: eval_samples_per_prompt must be ≥ 1, got {EvalSamplesPerPrompt}");
    }

    /// <summary>A preset whose fine-tuning samples with its sampler.</summary>
    private static ImageTaskSettings Preset(ImagePretrainSettings pretrain, ImageFineTuneSettings fineTune, SamplerSettings sampler, int evalSamplesPerPrompt) => new()
    {
        Pretrain = pretrain,
        FineTune = fineTune with { Sampler = sampler },
        Sampler = sampler,
        EvalSamplesPerPrompt = evalSamplesPerPrompt,
    };
}
