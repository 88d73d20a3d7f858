namespace RewardedSoups.Tasks.Image;

/// <summary>The image task's identity, as checkpoints and experiments name it.</summary>
public static class ImageTask
{
    public const string Name = "image";
}

/// <summary>Pre-training of the shared init: the classifier (reward model), then the diffusion model.</summary>
/// <param name="Channels">U-Net base channels C (2C at 14²).</param>
/// <param name="ClassifierSteps">Adam steps of the classifier on the training split.</param>
/// <param name="ClassifierBatch">Classifier minibatch size.</param>
/// <param name="ClassifierLearningRate">Classifier Adam learning rate.</param>
/// <param name="Steps">Adam steps of the diffusion model on the training split.</param>
/// <param name="Batch">Diffusion minibatch size.</param>
/// <param name="LearningRate">Peak Adam learning rate (linear warm-up over 5% of the steps, cosine decay to 0).</param>
/// <param name="LabelDropout">Probability of replacing a label by the null class (classifier-free guidance; 0.1 as Ho &amp; Salimans).</param>
/// <param name="QualitySamplesPerPrompt">Images per prompt drawn to measure the init's quality when it is done.</param>
public sealed record ImagePretrainSettings(
    int Channels = 32,
    int ClassifierSteps = 1500,
    int ClassifierBatch = 128,
    double ClassifierLearningRate = 1e-3,
    int Steps = 3000,
    int Batch = 64,
    double LearningRate = 2e-3,
    double LabelDropout = 0.1,
    int QualitySamplesPerPrompt = 20)
{
    public void Validate()
    {
        if (Channels < 4 || Channels % 4 != 0) throw new SoupInputException($"pretrain channels must be a positive multiple of 4, got {Channels}");
        Positive(ClassifierSteps, "pretrain classifier_steps");
        Positive(ClassifierBatch, "pretrain classifier_batch");
        Positive(Steps, "pretrain steps");
        Positive(Batch, "pretrain batch");
        Positive(QualitySamplesPerPrompt, "pretrain quality_samples_per_prompt");
        Rate(ClassifierLearningRate, "pretrain classifier_learning_rate");
        Rate(LearningRate, "pretrain learning_rate");
        Probability(LabelDropout, "pretrain label_dropout");
    }

    internal static void Positive(int value, string name)
    {
        if (value < 1) throw new SoupInputException($"{name} must be ≥ 1, got {value}");
    }

    internal static void Rate(double value, string name)
    {
        if (!double.IsFinite(value) || value <= 0 || value > 1) throw new SoupInputException($"{name} must be in (0, 1], got {value}");
    }

    internal static void Probability(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0 || value >= 1) throw new SoupInputException($"{name} must be in [0, 1), got {value}");
    }
}

/// <summary>
/// Reward-weighted fine-tuning (the paper's image recipe, after Lee et al., 2023): each round draws
/// <see cref="ImagesPerPrompt"/> images per prompt from the current model, keeps the better
/// <see cref="KeepFraction"/> of each prompt's images by the reward (all by default), and fits the model to
/// them with a denoising loss weighted by each image's reward z-score (see <see cref="ImageFineTune"/>).
/// </summary>
/// <param name="Rounds">Generate-select-fit rounds.</param>
/// <param name="ImagesPerPrompt">K, images generated per prompt per round (the cost: 10·K·rounds images).</param>
/// <param name="KeepFraction">Share of each prompt's images fitted, the best by reward (1: all, the better half with
/// positive weights and the worse with negative ones; the paper's 0.5 keeps only the better half).</param>
/// <param name="StepsPerRound">Adam steps on the kept images per round (Adam starts afresh every round).</param>
/// <param name="Batch">Minibatch size of those steps.</param>
/// <param name="LearningRate">Adam learning rate.</param>
/// <param name="AnchorWeight">β, weight of the anchor term: the plain denoising loss on a batch of real training
/// images added to every step (Lee et al.'s pre-training loss term), which keeps the model near the data
/// while the reward pulls it away; 0 turns it off.</param>
/// <param name="LabelDropout">Probability of the null class in the anchor term (as in pre-training, so the
/// unconditional branch stays fitted to real images). The generated images are always fitted through the guided
/// prediction (<see cref="Diffusion.GuidedLoss(DiffusionUNet, TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, double, TorchSharp.torch.Generator)"/>), no dropout.</param>
/// <param name="Trainer"><c>rwr</c>: the paper's reward-weighted denoising fine-tuning above; <c>ddpo</c>: DDPO's
/// importance-sampled policy gradient (Black et al., 2023) through a stochastic sampler (<see cref="ImageDdpo"/>);
/// <c>dpo</c>: Diffusion-DPO on the better and worse halves of each prompt's images against the frozen init (<see cref="ImageDpo"/>).</param>
/// <param name="Eta">DDPO: DDIM η of the sampler that generates the round's images (1, DDPO's: every step a Gaussian
/// policy with DDPM's variance); the evaluation keeps its deterministic sampler.</param>
/// <param name="ClipRange">DDPO: PPO clip range of the per-step likelihood ratio, whose log-probability is a mean over
/// the 784 pixels, so ratios stay near 1. 1e-2, not DDPO's 1e-4: measured on the built-in init, 1e-4 clipped
/// over 90% of the ratios after 10 Adam steps of a round and the reward did not rise (docs/images.md).</param>
/// <param name="AdvantageClip">DDPO: the z-scored advantages are clipped to ±this (5, DDPO's).</param>
/// <param name="DpoBeta">DPO: β, the inverse temperature of the preference margin (a difference of per-pixel mean
/// squared errors, about 1e-3 between nearby models, so β in the thousands, as Diffusion-DPO's 2000–5000).</param>
/// <param name="Trainable">Top-level U-Net modules trained (<see cref="DiffusionUNet.ModuleNames"/>); empty trains everything. Recorded in the checkpoint.</param>
/// <param name="Sampler">How the round's images are drawn.</param>
public sealed record ImageFineTuneSettings(
    int Rounds = 4,
    int ImagesPerPrompt = 32,
    double KeepFraction = 1.0,
    int StepsPerRound = 40,
    int Batch = 32,
    double LearningRate = 5e-4,
    double AnchorWeight = 0.0,
    double LabelDropout = 0.1,
    string Trainer = ImageFineTuneSettings.Rwr,
    double Eta = 1.0,
    double ClipRange = 1e-2,
    double AdvantageClip = 5,
    double DpoBeta = 2000,
    IReadOnlyList<string>? Trainable = null,
    SamplerSettings? Sampler = null)
{
    /// <summary>The paper's reward-weighted regression trainer.</summary>
    public const string Rwr = "rwr";

    /// <summary>The DDPO policy-gradient trainer.</summary>
    public const string Ddpo = "ddpo";

    /// <summary>The Diffusion-DPO trainer.</summary>
    public const string Dpo = "dpo";

    /// <summary>The trainers by name.</summary>
    public static IReadOnlyList<string> Trainers { get; } = [Rwr, Ddpo, Dpo];

    /// <summary>The sampler, its defaults when none is given.</summary>
    public SamplerSettings ResolvedSampler => Sampler ?? new SamplerSettings();

    /// <summary>The trainable modules, empty for all.</summary>
    public IReadOnlyList<string> ResolvedTrainable => Trainable ?? [];

    /// <summary>Images kept per prompt per round: ⌈K·keep⌉, at least 1.</summary>
    public int KeptPerPrompt => Math.Max(1, (int)Math.Ceiling(ImagesPerPrompt * KeepFraction));

    /// <summary>Images generated by the whole fine-tuning (its cost).</summary>
    public long ImagesGenerated => (long)Rounds * ImagesPerPrompt * FashionMnist.Classes;

    public void Validate()
    {
        ImagePretrainSettings.Positive(Rounds, "fine-tune rounds");
        if (ImagesPerPrompt < 2) throw new SoupInputException($"fine-tune images_per_prompt must be ≥ 2 (a selection needs a choice), got {ImagesPerPrompt}");
        if (!double.IsFinite(KeepFraction) || KeepFraction <= 0 || KeepFraction > 1) throw new SoupInputException($"fine-tune keep_fraction must be in (0, 1], got {KeepFraction}");
        ImagePretrainSettings.Positive(StepsPerRound, "fine-tune steps_per_round");
        ImagePretrainSettings.Positive(Batch, "fine-tune batch");
        ImagePretrainSettings.Rate(LearningRate, "fine-tune learning_rate");
        ImagePretrainSettings.Probability(LabelDropout, "fine-tune label_dropout");
        if (!double.IsFinite(AnchorWeight) || AnchorWeight < 0) throw new SoupInputException($"fine-tune anchor_weight must be ≥ 0, got {AnchorWeight}");
        if (!Trainers.Contains(Trainer)) throw new SoupInputException($"fine-tune trainer: unknown '{Trainer}'; trainers: {string.Join(", ", Trainers)}");
        if (!double.IsFinite(Eta) || Eta <= 0 || Eta > 1) throw new SoupInputException($"fine-tune eta must be in (0, 1], got {Eta}");
        if (!double.IsFinite(ClipRange) || ClipRange <= 0 || ClipRange >= 1) throw new SoupInputException($"fine-tune clip_range must be in (0, 1), got {ClipRange}");
        if (!double.IsFinite(AdvantageClip) || AdvantageClip <= 0) throw new SoupInputException($"fine-tune advantage_clip must be > 0, got {AdvantageClip}");
        if (!double.IsFinite(DpoBeta) || DpoBeta <= 0) throw new SoupInputException($"fine-tune dpo_beta must be > 0, got {DpoBeta}");
        foreach (string module in ResolvedTrainable)
            if (!DiffusionUNet.ModuleNames.Contains(module))
                throw new SoupInputException($"fine-tune trainable: unknown module '{module}'; the U-Net has: {string.Join(", ", DiffusionUNet.ModuleNames)}");
        ResolvedSampler.Validate();
        if (Trainer == Ddpo && ResolvedSampler.Steps < 4)
            throw new SoupInputException($"fine-tune trainer ddpo needs at least 4 sampler steps (it trains steps 1 … S − 3), got {ResolvedSampler.Steps}");
    }
}

/// <summary>Every setting of the image task at one size: pre-training, fine-tuning, sampling, evaluation.</summary>
/// <param name="Pretrain">Init (classifier and diffusion model) training.</param>
/// <param name="FineTune">Each expert's and each MORL model's fine-tuning.</param>
/// <param name="Sampler">How evaluation and the app draw images.</param>
/// <param name="EvalSamplesPerPrompt">Images per prompt per evaluated model.</param>
public sealed record ImageTaskSettings(ImagePretrainSettings Pretrain, ImageFineTuneSettings FineTune, SamplerSettings Sampler, int EvalSamplesPerPrompt)
{
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
    public static ImageTaskSettings Tiny { get; } = new(
        new ImagePretrainSettings(Channels: 8, ClassifierSteps: 300, ClassifierBatch: 64, Steps: 300, Batch: 32, LearningRate: 3e-3, QualitySamplesPerPrompt: 4),
        new ImageFineTuneSettings(Rounds: 2, ImagesPerPrompt: 8, StepsPerRound: 15, Batch: 16, LearningRate: 1e-3, AnchorWeight: 1, Sampler: new SamplerSettings(Steps: 6)),
        new SamplerSettings(Steps: 6),
        EvalSamplesPerPrompt: 4);

    /// <summary>
    /// The built-in experiment: about 20 minutes on 2 cores for pre-training, two experts, three MORL
    /// fine-tunings and eleven evaluated soups (measured numbers in docs/images.md).
    /// </summary>
    public static ImageTaskSettings BuiltIn { get; } = new(
        new ImagePretrainSettings(Channels: 16, Steps: 1200),
        new ImageFineTuneSettings(Rounds: 6, StepsPerRound: 60, LearningRate: 3e-4, AnchorWeight: 1, Trainable: PromptAndLastBlock),
        new SamplerSettings(),
        EvalSamplesPerPrompt: 20);

    /// <summary>A larger run for a machine with time to spare: longer pre-training, wider U-Net, more rounds.</summary>
    public static ImageTaskSettings Large { get; } = new(
        new ImagePretrainSettings(Channels: 48, ClassifierSteps: 4000, Steps: 15000, Batch: 128, LearningRate: 1e-3, QualitySamplesPerPrompt: 50),
        new ImageFineTuneSettings(Rounds: 8, ImagesPerPrompt: 64, StepsPerRound: 80, Batch: 64, LearningRate: 3e-4, AnchorWeight: 1, Sampler: new SamplerSettings(Steps: 20)),
        new SamplerSettings(Steps: 20),
        EvalSamplesPerPrompt: 50);

    /// <summary>The sizes by name.</summary>
    public static IReadOnlyList<string> SizeNames { get; } = ["tiny", "built-in", "large"];

    /// <summary>A size by name; an unknown one is a one-line error listing the names.</summary>
    public static ImageTaskSettings Size(string name) => name switch
    {
        "tiny" => Tiny,
        "built-in" => BuiltIn,
        "large" => Large,
        _ => throw new SoupInputException($"unknown image task size '{name}'; sizes: {string.Join(", ", SizeNames)}"),
    };

    public void Validate()
    {
        Pretrain.Validate();
        FineTune.Validate();
        Sampler.Validate();
        ImagePretrainSettings.Positive(EvalSamplesPerPrompt, "eval samples_per_prompt");
    }
}
