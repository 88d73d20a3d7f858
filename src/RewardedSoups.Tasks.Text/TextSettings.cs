using System.Text.Json.Nodes;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The <c>text</c> section of an experiment configuration, with its defaults (the built-in model:
/// GPT-2 layout, 4 layers × 128 wide, 4 heads, a 64-token context, GPT-2's BPE cut to 8,192 tokens).
/// </summary>
public sealed record TextSettings
{
    /// <summary><c>builtin</c> (pre-trained by the init job), or a Hugging Face GPT-2-family folder.</summary>
    public string Model { get; init; } = "builtin";
    public int Vocab { get; init; } = 8192;
    public int Layers { get; init; } = 4;
    public int Width { get; init; } = 128;
    public int Heads { get; init; } = 4;
    public int Context { get; init; } = 64;
    public int Batch { get; init; } = 32;
    public double PretrainLr { get; init; } = 3e-3;
    public int SftSteps { get; init; } = 200;
    public double SftLr { get; init; } = 1e-3;
    /// <summary>Tokens of a review given as the prompt (after <c>&lt;|endoftext|&gt;</c>).</summary>
    public int PromptTokens { get; init; } = 5;
    public int ResponseMin { get; init; } = 12;
    public int ResponseMax { get; init; } = 16;
    public double Temperature { get; init; } = 1.0;
    public int LoraRank { get; init; } = 8;
    public double LoraAlpha { get; init; } = 16;
    public IReadOnlyList<string> LoraTargets { get; init; } = ["c_attn", "c_proj", "c_fc"];
    /// <summary>PPO samples (responses) per update.</summary>
    public int PpoBatch { get; init; } = 32;
    /// <summary>Responses per prompt in a PPO batch, scored against the others' mean (leave-one-out; 1: TRL's one response per prompt).</summary>
    public int PpoResponsesPerPrompt { get; init; } = 1;
    public int PpoMinibatches { get; init; } = 2;
    public int PpoEpochs { get; init; } = 4;
    public double PpoLr { get; init; } = 3e-3;
    public double KlInit { get; init; } = 0.1;
    public double KlTarget { get; init; } = 6;
    public double KlHorizon { get; init; } = 640;
    public bool AdaptiveKl { get; init; } = true;
    public IReadOnlyList<string> SoupModes { get; init; } = ["delta", "factors"];

    public bool IsBuiltIn => Model == "builtin";

    /// <summary>Largest vocabulary: the built-in tokenizer is a prefix of GPT-2's BPE, at most 50,256 tokens (<c>TextTokenizers.Gpt2Prefix</c>).</summary>
    public const int MaxVocab = 50_256;

    /// <summary>Largest built-in model and batches: GPT-2 XL's 48 layers, 2,048 wide (XL is 1,600), GPT-2's 1,024-token context, 4,096 sequences.</summary>
    public const int MaxLayers = 48, MaxWidth = 2048, MaxContext = 1024, MaxBatch = 4096;

    private static readonly string[] Keys =
    [
        "model", "vocab", "layers", "width", "heads", "context", "batch", "pretrain_lr", "sft_steps", "sft_lr", "prompt_tokens",
        "response_min", "response_max", "temperature", "lora", "ppo", "soup_modes",
    ];

    public static TextSettings Parse(JsonObject? section, string source)
    {
        var d = new TextSettings();
        if (section is null) return d;
        var r = new ConfigReader(source);
        r.Keys(section, "text", Keys);
        JsonObject lora = section["lora"] is null ? [] : r.Object(section["lora"], "text.lora");
        r.Keys(lora, "text.lora", "rank", "alpha", "targets");
        JsonObject ppo = section["ppo"] is null ? [] : r.Object(section["ppo"], "text.ppo");
        r.Keys(ppo, "text.ppo", "batch", "responses_per_prompt", "minibatches", "epochs", "lr", "kl_init", "kl_target", "kl_horizon", "adaptive_kl");
        string model = section["model"] is null ? d.Model : r.String(section["model"]!, "text.model");
        if (model != "builtin" && !File.Exists(Path.Combine(model, "config.json")))
            throw r.Error("text.model", $"'{model}' is neither 'builtin' nor a folder with config.json (a Hugging Face GPT-2 checkpoint)");
        var s = new TextSettings
        {
            Model = model == "builtin" ? model : Path.GetFullPath(model),
            Vocab = r.Int(section["vocab"], "text.vocab", d.Vocab, 256, MaxVocab),
            Layers = r.Int(section["layers"], "text.layers", d.Layers, 1, MaxLayers),
            Width = r.Int(section["width"], "text.width", d.Width, 8, MaxWidth),
            Heads = r.Int(section["heads"], "text.heads", d.Heads, 1, MaxWidth),
            Context = r.Int(section["context"], "text.context", d.Context, 8, MaxContext),
            Batch = r.Int(section["batch"], "text.batch", d.Batch, 1, MaxBatch),
            PretrainLr = Positive(r, section["pretrain_lr"], "text.pretrain_lr", d.PretrainLr),
            SftSteps = r.Int(section["sft_steps"], "text.sft_steps", d.SftSteps, 0),
            SftLr = Positive(r, section["sft_lr"], "text.sft_lr", d.SftLr),
            PromptTokens = r.Int(section["prompt_tokens"], "text.prompt_tokens", d.PromptTokens, 1),
            ResponseMin = r.Int(section["response_min"], "text.response_min", d.ResponseMin, 1),
            ResponseMax = r.Int(section["response_max"], "text.response_max", d.ResponseMax, 1),
            Temperature = Positive(r, section["temperature"], "text.temperature", d.Temperature),
            LoraRank = r.Int(lora["rank"], "text.lora.rank", d.LoraRank, 1, MaxWidth),
            LoraAlpha = Positive(r, lora["alpha"], "text.lora.alpha", d.LoraAlpha),
            LoraTargets = lora["targets"] is null ? d.LoraTargets : r.Array(lora["targets"], "text.lora.targets").Select((t, i) => r.String(t!, $"text.lora.targets[{i}]")).ToList(),
            PpoBatch = r.Int(ppo["batch"], "text.ppo.batch", d.PpoBatch, 1, MaxBatch),
            PpoResponsesPerPrompt = r.Int(ppo["responses_per_prompt"], "text.ppo.responses_per_prompt", d.PpoResponsesPerPrompt, 1),
            PpoMinibatches = r.Int(ppo["minibatches"], "text.ppo.minibatches", d.PpoMinibatches, 1),
            PpoEpochs = r.Int(ppo["epochs"], "text.ppo.epochs", d.PpoEpochs, 1),
            PpoLr = Positive(r, ppo["lr"], "text.ppo.lr", d.PpoLr),
            KlInit = NonNegative(r, ppo["kl_init"], "text.ppo.kl_init", d.KlInit),
            KlTarget = Positive(r, ppo["kl_target"], "text.ppo.kl_target", d.KlTarget),
            KlHorizon = Positive(r, ppo["kl_horizon"], "text.ppo.kl_horizon", d.KlHorizon),
            AdaptiveKl = r.Bool(ppo["adaptive_kl"], "text.ppo.adaptive_kl", d.AdaptiveKl),
            SoupModes = section["soup_modes"] is null ? d.SoupModes : r.Array(section["soup_modes"], "text.soup_modes").Select((t, i) => r.String(t!, $"text.soup_modes[{i}]")).ToList(),
        };
        if (s.Width % s.Heads != 0) throw r.Error("text.width", $"{s.Width} is not a multiple of text.heads {s.Heads}");
        if (s.ResponseMin > s.ResponseMax) throw r.Error("text.response_min", $"{s.ResponseMin} exceeds text.response_max {s.ResponseMax}");
        if (s.PromptTokens + 1 + s.ResponseMax > s.Context) throw r.Error("text.response_max", $"prompt ({s.PromptTokens} + 1) and response ({s.ResponseMax}) tokens exceed the context of {s.Context}");
        if (s.PpoBatch % s.PpoMinibatches != 0) throw r.Error("text.ppo.minibatches", $"{s.PpoMinibatches} does not divide text.ppo.batch {s.PpoBatch}");
        if (s.PpoBatch % s.PpoResponsesPerPrompt != 0) throw r.Error("text.ppo.responses_per_prompt", $"{s.PpoResponsesPerPrompt} does not divide text.ppo.batch {s.PpoBatch}");
        if (s.SoupModes.Count == 0 || s.SoupModes.Any(m => m is not ("delta" or "factors")) || s.SoupModes.Distinct().Count() != s.SoupModes.Count)
            throw r.Error("text.soup_modes", "a list of distinct modes among 'delta' (ΔW = Σ λ B·A, exact) and 'factors' (A and B averaged apart)");
        string[] validTargets = ["c_attn", "c_proj", "c_fc", "attn.c_proj", "mlp.c_proj"];
        foreach (string t in s.LoraTargets)
            if (!validTargets.Contains(t)) throw r.Error("text.lora.targets", $"'{t}' is not a GPT-2 layer; valid: {string.Join(", ", validTargets)}");
        return s;
    }

    private static double Positive(ConfigReader r, JsonNode? node, string path, double fallback)
    {
        double v = r.Double(node, path, fallback);
        return v > 0 ? v : throw r.Error(path, $"must be > 0, got {v}");
    }

    private static double NonNegative(ConfigReader r, JsonNode? node, string path, double fallback)
    {
        double v = r.Double(node, path, fallback);
        return v >= 0 ? v : throw r.Error(path, $"must be ≥ 0, got {v}");
    }
}
