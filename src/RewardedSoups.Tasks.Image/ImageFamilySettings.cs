using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// The <c>image</c> section of an experiment configuration. <see cref="Size"/> picks a preset
/// (<see cref="ImageTaskSettings.Size"/>: <c>tiny</c>, <c>built-in</c>, <c>large</c>) that gives every
/// default; the other keys override it. The budgets are the experiment's: <c>pretrain.steps</c> is the
/// diffusion model's Adam steps, <c>experts.steps</c> the images each fine-tuning generates (whole rounds of
/// 10 prompts × <see cref="ImagesPerPrompt"/>). Unlike other sections, the defaults depend on a key (the
/// preset), so this one is bound by <see cref="Parse"/> rather than by <see cref="SettingsSection.Read{T}(JsonObject?, ConfigReader, string)"/>;
/// its keys are still the snake_case of its properties, and its JSON is the section.
/// </summary>
public sealed record ImageFamilySettings : ISettingsSection
{
    /// <summary>Preset giving the defaults: <c>tiny</c> (CI), <c>built-in</c> (the 20-minute study), <c>large</c>.</summary>
    public string Size { get; init; } = "built-in";
    /// <summary>U-Net base channels C (built-in 16).</summary>
    public int Channels { get; init; }
    /// <summary>Adam steps of the classifier (the reward model) on the training images (built-in 1500).</summary>
    public int ClassifierSteps { get; init; }
    /// <summary>K, images generated per prompt per fine-tuning round (built-in 32).</summary>
    public int ImagesPerPrompt { get; init; }
    /// <summary>Adam steps on a round's images (built-in 30).</summary>
    public int StepsPerRound { get; init; }
    /// <summary>Minibatch of those steps (built-in 32).</summary>
    public int Batch { get; init; }
    /// <summary>Fine-tuning Adam learning rate.</summary>
    public double LearningRate { get; init; }
    /// <summary>β of the anchor term (denoising loss on real images); 0 turns it off.</summary>
    public double AnchorWeight { get; init; }
    /// <summary>Fine-tuning trainer: <c>rwr</c> (the paper's reward-weighted denoising), <c>ddpo</c> (policy gradient) or <c>dpo</c> (Diffusion-DPO against the init).</summary>
    public string Trainer { get; init; } = ImageFineTuneSettings.Rwr;
    /// <summary>DDPO: DDIM η of the round's stochastic sampler.</summary>
    public double Eta { get; init; }
    /// <summary>DDPO: PPO clip range of the per-step likelihood ratio.</summary>
    public double ClipRange { get; init; }
    /// <summary>DPO: β of the preference margin.</summary>
    public double DpoBeta { get; init; }
    /// <summary>Top-level U-Net modules fine-tuned (<see cref="DiffusionUNet.ModuleNames"/>); empty: all.</summary>
    public IReadOnlyList<string> Trainable { get; init; } = [];
    /// <summary>DDIM steps of every sampling (fine-tuning rounds, evaluation, the app).</summary>
    public int SamplerSteps { get; init; }
    /// <summary>Classifier-free guidance scale w of every sampling.</summary>
    public double Guidance { get; init; }

    /// <summary>Largest U-Net base width (the large preset has 48), images per prompt per round (large: 64) and minibatch (large: 64).</summary>
    public const int MaxChannels = 256, MaxImagesPerPrompt = 1024, MaxBatch = 4096;

    [JsonIgnore]
    public ImageTaskSettings Preset => ImageTaskSettings.Size(Size);

    /// <summary>The sampler of fine-tuning, evaluation and the app: one, so the reward trained is the reward measured.</summary>
    [JsonIgnore]
    public SamplerSettings Sampler => new(SamplerSteps, Guidance);

    /// <summary>Pre-training with <paramref name="steps"/> diffusion steps (the experiment's <c>pretrain.steps</c>).</summary>
    public ImagePretrainSettings Pretrain(long steps) =>
        Preset.Pretrain with { Channels = Channels, ClassifierSteps = ClassifierSteps, Steps = checked((int)steps) };

    /// <summary>Rounds a budget of generated images buys: ⌈budget / (10·K)⌉, at least 1.</summary>
    public int Rounds(long budget) => (int)Math.Max(1, (budget + 10L * ImagesPerPrompt - 1) / (10L * ImagesPerPrompt));

    /// <summary>Fine-tuning for a budget of generated images.</summary>
    public ImageFineTuneSettings FineTune(long budget) => Preset.FineTune with
    {
        Rounds = Rounds(budget),
        ImagesPerPrompt = ImagesPerPrompt,
        StepsPerRound = StepsPerRound,
        Batch = Batch,
        LearningRate = LearningRate,
        AnchorWeight = AnchorWeight,
        Trainer = Trainer,
        Eta = Eta,
        ClipRange = ClipRange,
        DpoBeta = DpoBeta,
        Trainable = Trainable,
        Sampler = Sampler,
    };

    private static readonly string[] Keys = SettingsSection.Keys(typeof(ImageFamilySettings)).ToArray();

    public static ImageFamilySettings Parse(JsonObject? section, ConfigReader r)
    {
        section ??= [];
        r.Keys(section, "image", Keys);
        string size = section["size"] is null ? "built-in" : r.String(section["size"]!, "image.size");
        if (!ImageTaskSettings.SizeNames.Contains(size))
            throw r.Error("image.size", $"unknown size '{size}'; sizes: {string.Join(", ", ImageTaskSettings.SizeNames)}");
        ImageTaskSettings d = ImageTaskSettings.Size(size);
        IReadOnlyList<string> trainable = section["trainable"] switch
        {
            null => d.FineTune.ResolvedTrainable,
            JsonValue v when v.TryGetValue(out string? all) && all == "all" => [],
            var node => r.Array(node, "image.trainable").Select((t, i) => r.String(t!, $"image.trainable[{i}]")).ToList(),
        };
        foreach (string module in trainable)
            if (!DiffusionUNet.ModuleNames.Contains(module))
                throw r.Error("image.trainable", $"unknown module '{module}'; 'all' or a list of: {string.Join(", ", DiffusionUNet.ModuleNames)}");
        var s = new ImageFamilySettings
        {
            Size = size,
            Channels = r.Int(section["channels"], "image.channels", d.Pretrain.Channels, 4, MaxChannels),
            ClassifierSteps = r.Int(section["classifier_steps"], "image.classifier_steps", d.Pretrain.ClassifierSteps, 1),
            ImagesPerPrompt = r.Int(section["images_per_prompt"], "image.images_per_prompt", d.FineTune.ImagesPerPrompt, 2, MaxImagesPerPrompt),
            StepsPerRound = r.Int(section["steps_per_round"], "image.steps_per_round", d.FineTune.StepsPerRound, 1),
            Batch = r.Int(section["batch"], "image.batch", d.FineTune.Batch, 1, MaxBatch),
            LearningRate = r.Double(section["learning_rate"], "image.learning_rate", d.FineTune.LearningRate),
            AnchorWeight = r.Double(section["anchor_weight"], "image.anchor_weight", d.FineTune.AnchorWeight),
            Trainer = section["trainer"] is null ? d.FineTune.Trainer : r.String(section["trainer"]!, "image.trainer"),
            Eta = r.Double(section["eta"], "image.eta", d.FineTune.Eta),
            ClipRange = r.Double(section["clip_range"], "image.clip_range", d.FineTune.ClipRange),
            DpoBeta = r.Double(section["dpo_beta"], "image.dpo_beta", d.FineTune.DpoBeta),
            Trainable = trainable,
            SamplerSteps = r.Int(section["sampler_steps"], "image.sampler_steps", d.Sampler.Steps, 1),
            Guidance = r.Double(section["guidance"], "image.guidance", d.Sampler.GuidanceScale),
        };
        if (s.Channels % 4 != 0) throw r.Error("image.channels", $"must be a multiple of 4, got {s.Channels}");
        if (s.LearningRate <= 0 || s.LearningRate > 1) throw r.Error("image.learning_rate", $"must be in (0, 1], got {s.LearningRate}");
        if (s.AnchorWeight < 0) throw r.Error("image.anchor_weight", $"must be ≥ 0, got {s.AnchorWeight}");
        if (!ImageFineTuneSettings.Trainers.Contains(s.Trainer)) throw r.Error("image.trainer", $"unknown trainer '{s.Trainer}'; trainers: {string.Join(", ", ImageFineTuneSettings.Trainers)}");
        if (s.Eta <= 0 || s.Eta > 1) throw r.Error("image.eta", $"must be in (0, 1], got {s.Eta}");
        if (s.ClipRange <= 0 || s.ClipRange >= 1) throw r.Error("image.clip_range", $"must be in (0, 1), got {s.ClipRange}");
        if (s.DpoBeta <= 0) throw r.Error("image.dpo_beta", $"must be > 0, got {s.DpoBeta}");
        if (s.Trainer == ImageFineTuneSettings.Ddpo && s.SamplerSteps < 4) throw r.Error("image.sampler_steps", $"trainer ddpo needs at least 4 (it trains steps 1 … S − 3), got {s.SamplerSteps}");
        if (s.SamplerSteps > Diffusion.Timesteps) throw r.Error("image.sampler_steps", $"must be at most {Diffusion.Timesteps}, got {s.SamplerSteps}");
        if (s.Guidance < 0 || s.Guidance > 20) throw r.Error("image.guidance", $"must be in [0, 20], got {s.Guidance}");
        return s;
    }
}
