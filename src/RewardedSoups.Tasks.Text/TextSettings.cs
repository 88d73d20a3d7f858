using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The <c>text</c> section of an experiment configuration (each key the snake_case of its property), with
/// its defaults: the built-in model (GPT-2 layout, 4 layers × 128 wide, 4 heads, a 64-token context,
/// GPT-2's BPE cut to 8,192 tokens), its supervised stage, how responses are sampled, and two nested
/// sections that are the algorithms' own settings records: <c>lora</c> (<see cref="LoraSettings"/>) and
/// <c>ppo</c> (<see cref="LmPpoSettings"/>).
/// </summary>
public sealed record TextSettings : ISettingsSection
{
    /// <summary>Largest vocabulary: the built-in tokenizer is a prefix of GPT-2's BPE, at most 50,256 tokens (<c>TextTokenizers.Gpt2Prefix</c>).</summary>
    public const int MaxVocab = 50_256;

    /// <summary>Largest built-in model and batches: GPT-2 XL's 48 layers, 2,048 wide (XL is 1,600), GPT-2's 1,024-token context, 4,096 sequences.</summary>
    public const int MaxLayers = 48, MaxWidth = 2048, MaxContext = 1024, MaxBatch = 4096;

    /// <summary>The built-in model's name in <see cref="Model"/>.</summary>
    public const string BuiltIn = "builtin";

    /// <summary><c>builtin</c> (pre-trained by the init job), or a Hugging Face GPT-2-family folder (config.json + safetensors).</summary>
    public string Model { get; init; } = BuiltIn;

    /// <summary>Built-in model: vocabulary, a prefix of GPT-2's BPE (the end-of-text token is added).</summary>
    [Range(256, MaxVocab)]
    public int Vocab { get; init; } = 8192;

    /// <summary>Built-in model: transformer blocks.</summary>
    [Range(1, MaxLayers)]
    public int Layers { get; init; } = 4;

    /// <summary>Built-in model: embedding width; a multiple of <see cref="Heads"/>.</summary>
    [Range(8, MaxWidth)]
    public int Width { get; init; } = 128;

    /// <summary>Built-in model: attention heads.</summary>
    [Range(1, MaxWidth)]
    public int Heads { get; init; } = 4;

    /// <summary>Built-in model: context in tokens.</summary>
    [Range(8, MaxContext)]
    public int Context { get; init; } = 64;

    /// <summary>Sequences per step of pre-training and of the supervised stage.</summary>
    [Range(1, MaxBatch)]
    public int Batch { get; init; } = 32;

    /// <summary>Peak Adam learning rate of the built-in model's pre-training.</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double PretrainLr { get; init; } = 3e-3;

    /// <summary>Built-in model: the pre-training corpora (<c>brown</c>, <c>austen</c>), in order.</summary>
    public IReadOnlyList<string> Corpora { get; init; } = ["brown", "austen"];

    /// <summary>Built-in model: the seed of its pre-training (the base is shared by every training seed of a run, as a pre-trained model is).</summary>
    public int PretrainSeed { get; init; } = 1;

    /// <summary>
    /// Built-in model: libtorch threads of its pre-training, part of the base's identity (the thread count changes
    /// the rounding of every step, so two counts train two different bases); the init job's own count does not matter.
    /// </summary>
    [Range(1, 256)]
    public int PretrainThreads { get; init; } = 2;

    /// <summary>Adam steps of the supervised stage on the training reviews (0: none).</summary>
    [Range(0, int.MaxValue)]
    public int SftSteps { get; init; } = 200;

    /// <summary>Peak Adam learning rate of the supervised stage.</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double SftLr { get; init; } = 1e-3;

    /// <summary>Tokens of a review given as the prompt (after <c>&lt;|endoftext|&gt;</c>).</summary>
    [Range(1, MaxContext)]
    public int PromptTokens { get; init; } = 5;

    /// <summary>Shortest continuation sampled, in tokens (training, evaluation and the app alike).</summary>
    [Range(1, MaxContext)]
    public int ResponseMin { get; init; } = 12;

    /// <summary>Longest continuation sampled, in tokens; prompt + 1 + this must fit the context.</summary>
    [Range(1, MaxContext)]
    public int ResponseMax { get; init; } = 16;

    /// <summary>Sampling temperature (training, evaluation and the app alike).</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double Temperature { get; init; } = 1.0;

    /// <summary>The experts' LoRA adapters.</summary>
    public LoraSettings Lora { get; init; } = new();

    /// <summary>LM-PPO of the experts and the MORL policies (the sampling keys above are the task's, not this section's).</summary>
    public LmPpoSettings Ppo { get; init; } = new();

    /// <summary>Soup modes: <c>delta</c> (ΔW = Σ λ B·A, exact) and <c>factors</c> (A and B averaged apart, the paper's); the first draws the RS front.</summary>
    public IReadOnlyList<string> SoupModes { get; init; } = ["delta", "factors"];

    [JsonIgnore]
    public bool IsBuiltIn => Model == BuiltIn;

    /// <summary>LM-PPO as the trainer runs it: the section's settings with the task's sampling.</summary>
    [JsonIgnore]
    public LmPpoSettings Trainer => Ppo with
    {
        Temperature = Temperature,
        PromptTokens = PromptTokens + 1,
        ResponseMin = ResponseMin,
        ResponseMax = ResponseMax,
    };

    public void Check(SettingsCheck check)
    {
        if (!IsBuiltIn && !File.Exists(Path.Combine(Model, "config.json")))
            throw check.Fail("model", $"'{Model}' is neither '{BuiltIn}' nor a folder with config.json (a Hugging Face GPT-2 checkpoint)");
        if (Width % Heads != 0) throw check.Fail("width", $"{Width} is not a multiple of {check.Key("heads")} {Heads}");
        if (ResponseMin > ResponseMax) throw check.Fail("response_min", $"{ResponseMin} exceeds {check.Key("response_max")} {ResponseMax}");
        if (PromptTokens + 1 + ResponseMax > Context)
            throw check.Fail("response_max", $"prompt ({PromptTokens} + 1) and response ({ResponseMax}) tokens exceed the context of {Context}");
        if (Corpora.Count == 0 || Corpora.Any(c => !TextTaskData.CorpusNames.Contains(c)) || Corpora.Distinct().Count() != Corpora.Count)
            throw check.Fail("corpora", $"a list of distinct corpora among {string.Join(", ", TextTaskData.CorpusNames.Select(c => $"'{c}'"))}");
        if (SoupModes.Count == 0 || SoupModes.Any(m => m is not ("delta" or "factors")) || SoupModes.Distinct().Count() != SoupModes.Count)
            throw check.Fail("soup_modes", "a list of distinct modes among 'delta' (ΔW = Σ λ B·A, exact) and 'factors' (A and B averaged apart)");
    }
}
