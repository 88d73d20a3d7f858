using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using RewardedSoups.Checkpoints;
using RewardedSoups.Jobs;
using RewardedSoups.Learning;
using RewardedSoups.Soup;
using TorchSharp;

namespace RewardedSoups.Tasks.Text;

/// <summary>What one LM-PPO job is.</summary>
/// <param name="BaseModel">Hugging Face GPT-2 folder (config.json + safetensors) of the pre-trained model; it stays frozen.</param>
/// <param name="Tokenizer">The model's tokenizer.</param>
/// <param name="TokenizerName">Its name in settings.json (a tokenizer object cannot be compared).</param>
/// <param name="Prompts">The prompt set (texts and opaque items for the scorer).</param>
/// <param name="Scorer">The task score of a batch of responses.</param>
/// <param name="ScorerName">Its name in settings.json and in the adapter's metadata.</param>
/// <param name="Lora">Adapter settings.</param>
/// <param name="Ppo">PPO settings.</param>
/// <param name="Seed">Seed of everything random in it.</param>
/// <param name="Samples">Budget in responses (rounded up to whole batches).</param>
public sealed record LmPpoSpec(string BaseModel, Tokenizer Tokenizer, string TokenizerName, IReadOnlyList<LmPrompt> Prompts, LmScorer Scorer,
    string ScorerName, LoraSettings Lora, LmPpoSettings Ppo, int Seed, long Samples);

/// <summary>What a finished (or already finished) LM-PPO job left behind.</summary>
public sealed record LmPpoResult(string AdapterPath, string ValueHeadPath, int Updates, long Samples, LmUpdateLog? Last, bool Resumed);

/// <summary>
/// One LM-PPO training in its own folder, files in and files out, resumable after a kill (a
/// <see cref="JobFolder"/>, as every trainer):
/// <list type="bullet">
/// <item><c>settings.json</c>: the resolved spec (prompt set by count and SHA-256); a later run in the folder must ask for the same.</item>
/// <item><c>checkpoint.safetensors</c>: adapter, value head, Adam, β, random state and progress, rewritten atomically after every update.</item>
/// <item><c>adapter/</c>: the PEFT adapter folder (what soups are made of), and <c>value_head.safetensors</c>, written when complete.</item>
/// <item><c>train_log.csv</c>: one row per update.</item>
/// </list>
/// A resumed run continues from the last completed update exactly as if it had not stopped; a finished run is not redone.
/// </summary>
public static class LmPpoRun
{
    public const string SettingsFile = JobFolder.SettingsFile;
    public const string CheckpointFile = JobFolder.CheckpointFile;
    public const string AdapterFolder = "adapter";
    public const string ValueHeadFile = "value_head.safetensors";
    public const string LogFile = "train_log.csv";

    public static LmPpoResult Run(string dir, LmPpoSpec spec, Action<LmUpdateLog>? onUpdate = null, CancellationToken cancel = default)
    {
        spec.Lora.Validate();
        spec.Ppo.Validate();
        if (spec.Samples < 1) throw new SoupInputException($"lm-ppo: samples must be ≥ 1, got {spec.Samples}");
        if (spec.Prompts.Count == 0) throw new SoupInputException("lm-ppo: the prompt set is empty");
        string settingsJson = JsonSerializer.Serialize(new
        {
            kind = "lm-ppo",
            base_model = Path.GetFullPath(spec.BaseModel),
            tokenizer = spec.TokenizerName,
            prompts = new { count = spec.Prompts.Count, sha256 = PromptsHash(spec.Prompts) },
            scorer = spec.ScorerName,
            samples = spec.Samples,
            seed = spec.Seed,
            lora = SettingsSection.ToJson(spec.Lora),
            ppo = SettingsSection.ToJson(spec.Ppo),
            // The sampling is not a key of the ppo section (the task sets it), but resuming needs the same.
            sampling = new { prompt_tokens = spec.Ppo.PromptTokens, response_min = spec.Ppo.ResponseMin, response_max = spec.Ppo.ResponseMax, temperature = spec.Ppo.Temperature, top_k = spec.Ppo.TopK },
        }, new JsonSerializerOptions { WriteIndented = true });
        JobFolder folder = JobFolder.Claim(dir, settingsJson, "a training");

        using Gpt2Model model = Gpt2Model.Load(spec.BaseModel);
        using var init = new torch.Generator(unchecked((ulong)spec.Seed) ^ 0x9E3779B97F4A7C15UL);
        using Gpt2Lora lora = Gpt2Lora.Inject(model, spec.Lora, init);
        using var valueHead = TorchRandom.Shared(() => new LmValueHead(model.Config.Embedding, init));
        using var trainer = new LmPpoTrainer(model, lora, valueHead, spec.Tokenizer, spec.Prompts, spec.Scorer, spec.Ppo, spec.Seed);
        bool resumed = folder.HasCheckpoint;
        if (resumed)
        {
            using Checkpoint c = Checkpoint.Open(folder.CheckpointPath);
            trainer.RestoreState(c);
        }
        CsvLog trainLog = folder.OpenLog(LogFile, LogColumns, trainer.Update);
        int numUpdates = (int)((spec.Samples + spec.Ppo.Batch - 1) / spec.Ppo.Batch);
        string adapterPath = folder.File(AdapterFolder), valueHeadPath = folder.File(ValueHeadFile);
        LmUpdateLog? last = null;
        if (trainer.Update < numUpdates)
        {
            trainer.Train(spec.Samples, log =>
            {
                last = log;
                AppendLog(trainLog, log);
                TrainedCheckpoint.Write(folder.CheckpointPath, trainer.StateTensors(), new Dictionary<string, string>
                {
                    ["format"] = "pt",
                    ["rs.kind"] = "lm-ppo-training",
                    ["rs.settings"] = settingsJson,
                });
                onUpdate?.Invoke(log);
            }, cancel);
        }
        // The adapter is the job's product: written once training is complete (the checkpoint already
        // holds it for resuming), or when a finished run lost it.
        if (last is not null || !LoraSoup.IsAdapterFolder(adapterPath) || !File.Exists(valueHeadPath))
        {
            lora.Save(adapterPath, Path.GetFullPath(spec.BaseModel), new Dictionary<string, string>
            {
                ["rs.kind"] = "adapter",
                ["rs.scorer"] = spec.ScorerName,
                ["rs.samples"] = trainer.Samples.ToString(CultureInfo.InvariantCulture),
                ["rs.seed"] = spec.Seed.ToString(CultureInfo.InvariantCulture),
            });
            valueHead.Save(valueHeadPath);
        }
        return new LmPpoResult(Path.GetFullPath(adapterPath), Path.GetFullPath(valueHeadPath), trainer.Update, trainer.Samples, last, resumed);
    }

    /// <summary>SHA-256 of the prompt texts (length-prefixed, in order): a changed prompt set is other settings.</summary>
    private static string PromptsHash(IReadOnlyList<LmPrompt> prompts)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (LmPrompt p in prompts)
        {
            byte[] text = Encoding.UTF8.GetBytes(p.Text);
            sha.AppendData(BitConverter.GetBytes(text.Length));
            sha.AppendData(text);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static readonly string[] LogColumns =
    [
        "update", "samples", "env/score_mean", "env/score_std", "objective/kl", "objective/kl_coef", "objective/non_score_reward",
        "ppo/loss/policy", "ppo/loss/value", "ppo/policy/clipfrac", "ppo/val/clipfrac", "ppo/policy/approxkl", "objective/entropy",
        "tokens/responses_len_mean", "perf/tokens_per_s", "perf/generation_s", "perf/optimise_s",
    ];

    private static void AppendLog(CsvLog trainLog, LmUpdateLog log) => trainLog.Append(new object[]
    {
        log.Update, log.Samples, log.ScoreMean, log.ScoreStd, log.Kl, log.KlCoef, log.NonScoreReward, log.PolicyLoss, log.ValueLoss,
        log.ClipFraction, log.ValueClipFraction, log.ApproxKl, log.Entropy, log.ResponseLength, log.TokensPerSecond,
        log.GenerationSeconds, log.OptimiseSeconds,
    }.Select(v => v is double d ? CsvLog.G6(d) : CsvLog.Cell(v)));
}
