using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// What decides a built-in base model's weights: its architecture, its pre-training (corpora, steps,
/// batch, context, learning rate, seed, libtorch threads) and <see cref="TextBase.Version"/>, the version of the
/// pre-training procedure. Two runs asking for the same spec share one base; its hash names it.
/// </summary>
public sealed record TextBaseSpec(
    [property: JsonPropertyName("vocab")] int Vocab,
    [property: JsonPropertyName("layers")] int Layers,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("heads")] int Heads,
    [property: JsonPropertyName("context")] int Context,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("lr")] double Lr,
    [property: JsonPropertyName("steps")] long Steps,
    [property: JsonPropertyName("corpora")] IReadOnlyList<string> Corpora,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("threads")] int Threads)
{
    /// <summary>The base a run's settings ask for, pre-trained for <paramref name="steps"/> steps (the experiment's <c>pretrain.steps</c>).</summary>
    public static TextBaseSpec From(TextSettings s, long steps) =>
        new(s.Vocab, s.Layers, s.Width, s.Heads, s.Context, s.Batch, s.PretrainLr, steps, s.Corpora, s.PretrainSeed, s.PretrainThreads);

    /// <summary>The canonical JSON hashed: this spec and the procedure's version.</summary>
    public string CanonicalJson() => JsonSerializer.Serialize(new { version = TextBase.Version, spec = this });

    /// <summary>Equal when the canonical JSON is (the corpora compared by value, not as list references).</summary>
    public bool Equals(TextBaseSpec? other) => other is not null && CanonicalJson() == other.CanonicalJson();

    public override int GetHashCode() => CanonicalJson().GetHashCode(StringComparison.Ordinal);

    /// <summary>First 16 hex digits of the SHA-256 of <see cref="CanonicalJson"/>: the base's name in the cache.</summary>
    [JsonIgnore]
    public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalJson())))[..16];
}

/// <summary>What a base's pre-training measured (<c>base.json</c> in its folder, copied into a run's init.json).</summary>
public sealed record TextBaseReport(
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("spec")] TextBaseSpec Spec,
    [property: JsonPropertyName("parameters")] int Parameters,
    [property: JsonPropertyName("train_tokens")] long TrainTokens,
    [property: JsonPropertyName("valid_tokens")] long ValidTokens,
    [property: JsonPropertyName("tokens_seen")] long TokensSeen,
    [property: JsonPropertyName("valid_loss")] double ValidLoss,
    [property: JsonPropertyName("seconds")] double Seconds)
{
    [JsonPropertyName("valid_perplexity")] public double ValidPerplexity => Math.Exp(ValidLoss);
}

/// <summary>
/// A named built-in base (<c>soup pretrain text --size NAME</c>): the <c>text</c> keys it sets over the section's
/// defaults and its pre-training steps (the experiment's <c>pretrain.steps</c>). A configuration with the same keys
/// and steps uses the same base, from the cache.
/// </summary>
public sealed record TextBaseSize(string Name, long Steps, string Description, IReadOnlyDictionary<string, object> Keys)
{
    /// <summary>The <c>text</c> section this size sets (fresh on every call: callers add keys to it).</summary>
    public System.Text.Json.Nodes.JsonObject Section() => System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(Keys))!.AsObject();
}

/// <summary>A finished base model in the cache: its folder, the Hugging Face model folder inside it, and its report.</summary>
public sealed record TextBaseModel(string Folder, string ModelDir, TextBaseReport Report, bool Trained);

/// <summary>
/// Built-in base models, pre-trained once and reused as users treat pre-trained models: the first run (or
/// <c>soup pretrain text</c>) that needs a base trains it into a user cache folder keyed by its spec's hash, and
/// every later run with the same spec loads it.
/// <list type="bullet">
/// <item>Where: <c>$SOUP_CACHE/text-base/HASH</c>, else <c>$XDG_CACHE_HOME/rewardedsoups/text-base/HASH</c>, else
/// <c>~/.cache/rewardedsoups/text-base/HASH</c>. A folder holds <c>model/</c> (a Hugging Face GPT-2 folder),
/// <c>base.json</c> (spec and measures) and <c>train_log.csv</c>.</item>
/// <item>Atomic: the training runs in <c>HASH.partial/</c>, moved to <c>HASH/</c> once complete; a complete
/// folder is never written again.</item>
/// <item>Resumable: the partial folder holds the training state after every logged point (<see cref="LmTraining"/>);
/// a training killed and started again continues from it and writes the bytes of one never stopped.</item>
/// <item>One trainer: <c>HASH.lock</c> is held while training; another process asking for the same base waits
/// for it (the runs of several training seeds share one base), then loads it.</item>
/// </list>
/// </summary>
public static class TextBase
{
    /// <summary>The pre-training procedure's version, part of every hash: bump it when a change to the training code would change a base's bytes.</summary>
    public const int Version = 1;

    public const string CacheVariable = "SOUP_CACHE";

    /// <summary>
    /// <c>small</c>: the built-in model until 2026-12 (4 layers × 128, Brown only, 600 steps: 4 minutes, perplexity 255 on
    /// held-out reviews after the supervised stage); <c>base</c>: the default of the <c>text</c> section and of
    /// configs/text.yaml, chosen by measurement (docs/text.md, "The built-in base model").
    /// </summary>
    public static IReadOnlyList<TextBaseSize> Sizes { get; } =
    [
        new("small", 600, SmallDescription,
            new Dictionary<string, object> { ["layers"] = 4, ["width"] = 128, ["heads"] = 4, ["corpora"] = new[] { "brown" } }),
        new("base", BaseSteps, BaseDescription, new Dictionary<string, object>()),
    ];

    private const string SmallDescription = "4 layers × 128, Brown only, 600 steps (the built-in model until 2026-12; about 4 minutes on 2 cores)";
    private const string BaseDescription = "the text section's defaults: Brown and Jane Austen's novels (about 26 minutes on 2 cores)";

    /// <summary>
    /// The sizes for a help text, as a constant: reading <see cref="Sizes"/> would load this assembly, and with it
    /// libtorch (its module initializer), into every command's start-up (a test checks it names every size).
    /// </summary>
    public const string SizesHelp = "small (" + SmallDescription + "); base (" + BaseDescription + ")";

    /// <summary>Pre-training steps of the <c>base</c> size (configs/text.yaml's <c>pretrain.steps</c>).</summary>
    public const long BaseSteps = 6000;

    /// <summary>The size named <paramref name="name"/>, or a one-line error listing the sizes.</summary>
    public static TextBaseSize Size(string name) => Sizes.FirstOrDefault(s => s.Name == name)
        ?? throw new SoupInputException($"--size '{name}': the built-in bases are {string.Join(", ", Sizes.Select(s => s.Name))}");

    public const string ReportFile = "base.json";
    public const string ModelFolder = "model";
    public const string LogFile = "train_log.csv";
    private const string CheckpointFile = "checkpoint.safetensors";

    /// <summary>The cache's root folder (not created).</summary>
    public static string CacheRoot()
    {
        string? own = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrEmpty(own)) return Path.GetFullPath(own);
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "rewardedsoups");
    }

    /// <summary>The folder a base of <paramref name="spec"/> is (or will be) in.</summary>
    public static string Folder(TextBaseSpec spec) => Path.Combine(CacheRoot(), "text-base", spec.Hash);

    /// <summary>The finished base of <paramref name="spec"/>, or null when the cache has none.</summary>
    public static TextBaseModel? Find(TextBaseSpec spec)
    {
        string folder = Folder(spec);
        string report = Path.Combine(folder, ReportFile);
        if (!File.Exists(report)) return null;
        TextBaseReport r = JsonSerializer.Deserialize<TextBaseReport>(File.ReadAllText(report))
            ?? throw new SoupInputException($"{report}: empty");
        if (r.Hash != spec.Hash) throw new SoupInputException($"{report}: holds base {r.Hash}, not {spec.Hash}; the cache folder was altered (delete it to train again)");
        return new TextBaseModel(folder, Path.Combine(folder, ModelFolder), r, Trained: false);
    }

    /// <summary>The base of <paramref name="spec"/>: from the cache, or trained into it now (waiting for another process training it).</summary>
    public static TextBaseModel Ensure(TextBaseSpec spec, Action<string>? log, CancellationToken cancel)
    {
        if (spec.Steps < 1) throw new SoupInputException($"a base model needs at least 1 pre-training step, got {spec.Steps}");
        if (spec.Corpora.Count == 0) throw new SoupInputException("a base model needs at least one pre-training corpus");
        if (Find(spec) is TextBaseModel cached) return cached;
        string folder = Folder(spec);
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        using FileStream held = Lock(folder + ".lock", spec.Hash, log, cancel);
        if (Find(spec) is TextBaseModel done) return done; // trained by the process we waited for
        string partial = folder + ".partial";
        Directory.CreateDirectory(partial);
        int threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(spec.Threads);
        TextBaseReport report;
        try { report = Train(spec, partial, log, cancel); }
        finally { TorchSharp.torch.set_num_threads(threads); }
        File.Delete(Path.Combine(partial, CheckpointFile));
        AtomicOutput.WriteAllText(Path.Combine(partial, ReportFile), Numerics.FiniteJson.Serialize(report, Path.Combine(partial, ReportFile)));
        Directory.Move(partial, folder);
        return new TextBaseModel(folder, Path.Combine(folder, ModelFolder), report, Trained: true);
    }

    /// <summary>Holds <paramref name="path"/> exclusively (an advisory lock, released if the process dies), waiting while another process holds it.</summary>
    private static FileStream Lock(string path, string hash, Action<string>? log, CancellationToken cancel)
    {
        bool said = false;
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException)
            {
                if (!said) log?.Invoke($"base {hash}: another process is training it; waiting for it");
                said = true;
                cancel.WaitHandle.WaitOne(TimeSpan.FromSeconds(2));
                cancel.ThrowIfCancellationRequested();
            }
        }
    }

    private static TextBaseReport Train(TextBaseSpec spec, string dir, Action<string>? log, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        Microsoft.ML.Tokenizers.Tokenizer tokenizer = TextTokenizers.Gpt2Prefix(spec.Vocab);
        TextTaskData data = TextTaskData.Build(tokenizer, spec.Vocab, promptTokens: 1, spec.Corpora);
        // Refused before training rather than after it: the report's validation loss needs one window.
        if (data.PretrainValid.Length <= spec.Context)
            throw new SoupInputException($"the pre-training corpora's validation stream ({data.PretrainValid.Length} tokens) is shorter than one context window of {spec.Context}");
        using Gpt2Model model = TorchRandom.Shared(() => new Gpt2Model(new Gpt2Config(spec.Vocab + 1, spec.Context, spec.Width, spec.Layers, spec.Heads)));
        LmTraining.InitializeFromScratch(model, spec.Seed);
        int steps = checked((int)spec.Steps);
        var settings = new LmTrainSettings
        {
            Steps = steps, BatchSize = spec.Batch, Context = spec.Context, LearningRate = spec.Lr,
            WarmupSteps = Math.Max(1, steps / 20), EvalEvery = Math.Max(1, steps / 5),
        };
        log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"base {spec.Hash}: pre-training {spec.Layers} layers × {spec.Width} on {string.Join(" + ", spec.Corpora)} ({data.PretrainTrain.Length:N0} tokens), {steps:N0} steps of {spec.Batch} × {spec.Context} tokens, into {dir}"));
        List<LmTrainLog> logs = LmTraining.Train(model, data.PretrainTrain, data.PretrainValid, settings, spec.Seed,
            l => log?.Invoke($"base step {l.Step}/{steps}: train {l.TrainLoss:F3}, valid {(l.ValidLoss is double v ? Gpt2Folder.Perplexity(v) : "-")}, {l.TokensPerSecond:F0} tokens/s"),
            cancel, Path.Combine(dir, CheckpointFile));
        var rows = new StringBuilder("global_step,train_loss,valid_loss,learning_rate,tokens_per_s\n");
        foreach (LmTrainLog l in logs) rows.Append(CultureInfo.InvariantCulture, $"{l.Step},{l.TrainLoss:G6},{l.ValidLoss:G6},{l.LearningRate:G4},{l.TokensPerSecond:F0}\n");
        AtomicOutput.WriteAllText(Path.Combine(dir, LogFile), rows.ToString());
        string modelDir = Path.Combine(dir, ModelFolder);
        if (Directory.Exists(modelDir)) Directory.Delete(modelDir, recursive: true); // a half-written folder of a killed training
        Gpt2Folder.Save(model, modelDir, spec.Vocab, new Dictionary<string, string>
        {
            ["rs.kind"] = "text-base",
            ["rs.base"] = spec.Hash,
            ["rs.spec"] = spec.CanonicalJson(),
        });
        double validLoss = logs[^1].ValidLoss!.Value; // a window exists: checked above
        return new TextBaseReport(spec.Hash, Version, spec, (int)model.parameters().Sum(p => p.numel()), data.PretrainTrain.Length, data.PretrainValid.Length,
            (long)steps * spec.Batch * spec.Context, validLoss, clock.Elapsed.TotalSeconds);
    }
}
