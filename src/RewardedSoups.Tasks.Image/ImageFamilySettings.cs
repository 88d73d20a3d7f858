using System.Text.Json.Nodes;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// The <c>image</c> section of an experiment configuration: <see cref="Size"/> picks a preset
/// (<see cref="ImageTaskSettings.Size"/>: <c>tiny</c>, <c>built-in</c>, <c>large</c>) that gives every
/// default, and three nested sections that are the library's own settings records override it key by key:
/// <c>pretrain</c> (<see cref="ImagePretrainSettings"/>), <c>fine_tune</c> (<see cref="ImageFineTuneSettings"/>)
/// and <c>sampler</c> (<see cref="SamplerSettings"/>, the one sampler of fine-tuning, evaluation and the app).
/// The budgets are the experiment's: <c>pretrain.steps</c> is the diffusion model's Adam steps
/// (<see cref="PretrainFor"/>), <c>experts.steps</c> the images each fine-tuning generates, whole rounds of
/// 10 prompts × K (<see cref="FineTuneFor"/>).
/// </summary>
public sealed record ImageFamilySettings : ISettingsSection
{
    /// <summary>The preset of a section that names none.</summary>
    public const string DefaultSize = "built-in";

    /// <summary>Preset giving the defaults: <c>tiny</c> (CI), <c>built-in</c> (the 20-minute study), <c>large</c>.</summary>
    public string Size { get; init; } = DefaultSize;

    /// <summary>Pre-training of the init: the classifier (the reward model), then the diffusion model.</summary>
    public ImagePretrainSettings Pretrain { get; init; } = ImageTaskSettings.BuiltIn.Pretrain;

    /// <summary>Each expert's and each MORL model's fine-tuning.</summary>
    public ImageFineTuneSettings FineTune { get; init; } = ImageTaskSettings.BuiltIn.FineTune;

    /// <summary>The sampler of fine-tuning, evaluation and the app: one, so the reward trained is the reward measured.</summary>
    public SamplerSettings Sampler { get; init; } = ImageTaskSettings.BuiltIn.Sampler;

    /// <summary>The section's defaults at a size: its preset's.</summary>
    public static ImageFamilySettings Preset(string size)
    {
        ImageTaskSettings preset = ImageTaskSettings.Size(size);
        return new ImageFamilySettings { Size = size, Pretrain = preset.Pretrain, FineTune = preset.FineTune, Sampler = preset.Sampler };
    }

    /// <summary>
    /// Binds the section at <paramref name="path"/>: <c>size</c> first (an unknown one is a one-line error listing
    /// the sizes), then every other key onto that preset, strictly. <c>fine_tune.trainable: all</c> is the empty list.
    /// </summary>
    public static ImageFamilySettings Read(JsonObject? section, ConfigReader reader, string path)
    {
        var check = new SettingsCheck(reader, path);
        string size = section?["size"] is { } node ? reader.String(node, check.Key("size")) : DefaultSize;
        CheckSize(size, check);
        return SettingsSection.Read(AllModulesAsEmpty(section), reader, path, Preset(size));
    }

    /// <summary>Pre-training with <paramref name="steps"/> diffusion steps (the experiment's <c>pretrain.steps</c>).</summary>
    public ImagePretrainSettings PretrainFor(long steps) => Pretrain with { Steps = checked((int)steps) };

    /// <summary>Fine-tuning for a budget of generated images (the experiment's <c>experts.steps</c>), sampling with <see cref="Sampler"/>.</summary>
    public ImageFineTuneSettings FineTuneFor(long budget) => FineTune with { Rounds = FineTune.RoundsFor(budget), Sampler = Sampler };

    /// <summary>The size is known, and the sampler suits the trainer (DDPO needs a few steps).</summary>
    public void Check(SettingsCheck check)
    {
        CheckSize(Size, check);
        if (FineTune.SamplerStepsProblem(Sampler.Steps) is { } problem) throw check.Fail("sampler.steps", problem);
    }

    private static void CheckSize(string size, SettingsCheck check)
    {
        if (!ImageTaskSettings.SizeNames.Contains(size)) throw check.Fail("size", ImageTaskSettings.UnknownSize(size));
    }

    /// <summary>The section with <c>fine_tune.trainable: all</c> written as the empty list it means (a copy; the section itself is not changed).</summary>
    private static JsonObject? AllModulesAsEmpty(JsonObject? section)
    {
        if (section?["fine_tune"] is not JsonObject fineTune || fineTune["trainable"] is not JsonValue trainable
            || !trainable.TryGetValue(out string? all) || all != "all")
            return section;
        JsonObject copy = section.DeepClone().AsObject();
        copy["fine_tune"]!["trainable"] = new JsonArray();
        return copy;
    }
}
