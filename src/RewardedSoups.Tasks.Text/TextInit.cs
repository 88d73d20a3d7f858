using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;

namespace RewardedSoups.Tasks.Text;

/// <summary>What the shared init's training measured (written to <c>init.json</c>, copied into results.json).</summary>
/// <remarks>Losses are nats per token of the model's tokenizer; JSON names are snake_case like the rest of results.json.</remarks>
public sealed record TextInitReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("parameters")] int Parameters,
    [property: JsonPropertyName("vocab_size")] int VocabSize,
    [property: JsonPropertyName("pretrain_tokens")] long PretrainTokens,
    [property: JsonPropertyName("pretrain_steps")] int PretrainSteps,
    [property: JsonPropertyName("pretrain_valid_loss")] double? PretrainValidLoss,
    [property: JsonPropertyName("sft_steps")] int SftSteps,
    [property: JsonPropertyName("sft_valid_loss_before")] double SftValidLossBefore,
    [property: JsonPropertyName("sft_valid_loss")] double SftValidLoss,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("base")] TextBaseReport? Base = null,
    [property: JsonPropertyName("base_folder")] string? BaseFolder = null)
{
    /// <summary>Perplexity per token of the reviews' held-out stream after the supervised stage.</summary>
    [JsonPropertyName("sft_valid_perplexity")] public double SftValidPerplexity => Math.Exp(SftValidLoss);

    [JsonPropertyName("pretrain_valid_perplexity")] public double? PretrainValidPerplexity => PretrainValidLoss is double l ? Math.Exp(l) : null;
}

/// <summary>
/// The text task's shared init, in its job folder: <c>model/</c> (a Hugging Face GPT-2 folder),
/// <c>init.json</c> (validation losses, the base used) and <c>train_log.csv</c> (the supervised stage). The
/// built-in model starts from a base pre-trained from scratch (<see cref="TextBase"/>: cached, shared by every
/// run asking for the same base), then is trained on the training reviews (the supervised stage); a user's
/// GPT-2-family folder goes through the supervised stage only.
/// </summary>
public static class TextInit
{
    public const string ModelDir = "model";
    public const string ReportFile = "init.json";
    public const string LogFile = "train_log.csv";

    public static TextInitReport Train(string dir, TextSettings s, long pretrainSteps, int seed, Action<string>? log, CancellationToken cancel)
    {
        string reportPath = Path.Combine(dir, ReportFile);
        if (File.Exists(reportPath) && File.Exists(Path.Combine(dir, ModelDir, "config.json")))
            return ReadReport(dir); // finished before
        Directory.CreateDirectory(dir);
        var clock = Stopwatch.StartNew();
        Gpt2Model model;
        Tokenizer tokenizer;
        int? prefix = null;
        TextBaseModel? baseModel = null;
        if (s.IsBuiltIn)
        {
            prefix = s.Vocab;
            tokenizer = TextTokenizers.Gpt2Prefix(s.Vocab);
            if (pretrainSteps > 0)
            {
                baseModel = TextBase.Ensure(TextBaseSpec.From(s, pretrainSteps), log, cancel);
                model = Gpt2Model.Load(baseModel.ModelDir);
                log?.Invoke($"base {baseModel.Report.Hash} ({(baseModel.Trained ? "trained now" : "cached")}: {baseModel.Folder}): valid {Gpt2Folder.Perplexity(baseModel.Report.ValidLoss)}");
            }
            else
            {
                model = TorchRandom.Shared(() => new Gpt2Model(new Gpt2Config(s.Vocab + 1, s.Context, s.Width, s.Layers, s.Heads)));
                LmTraining.InitializeFromScratch(model, s.PretrainSeed);
            }
        }
        else
        {
            model = Gpt2Model.Load(s.Model);
            tokenizer = TextTokenizers.ForModel(s.Model, model.Config);
        }
        using (model)
        {
            int eot = model.Config.VocabSize - 1;
            TextTaskData data = TextTaskData.Build(tokenizer, eot, s.PromptTokens, corpora: []);
            var rows = new StringBuilder("stage,global_step,train_loss,valid_loss,learning_rate,tokens_per_s\n");
            void Row(string stage, LmTrainLog l)
            {
                rows.Append(CultureInfo.InvariantCulture, $"{stage},{l.Step},{l.TrainLoss:G6},{l.ValidLoss:G6},{l.LearningRate:G4},{l.TokensPerSecond:F0}\n");
                log?.Invoke($"{stage} step {l.Step}: train {l.TrainLoss:F3}, valid {(l.ValidLoss is double v ? Gpt2Folder.Perplexity(v) : "-")}, {l.TokensPerSecond:F0} tokens/s");
            }
            double? pretrainValid = baseModel?.Report.ValidLoss;
            double sftBefore = LmTraining.ValidationLoss(model, data.SftValid, s.Context, s.Batch);
            double sftAfter = sftBefore;
            if (s.SftSteps > 0)
            {
                var sft = new LmTrainSettings
                {
                    Steps = s.SftSteps, BatchSize = s.Batch, Context = s.Context, LearningRate = s.SftLr,
                    WarmupSteps = Math.Max(1, s.SftSteps / 10), EvalEvery = Math.Max(1, s.SftSteps / 2),
                };
                List<LmTrainLog> logs = LmTraining.Train(model, data.SftTrain, data.SftValid, sft, seed + 1, l => Row("sft", l), cancel);
                sftAfter = logs[^1].ValidLoss ?? sftBefore;
            }
            var report = new TextInitReport(s.IsBuiltIn ? "built-in" : Path.GetFullPath(s.Model),
                (int)model.parameters().Sum(p => p.numel()), model.Config.VocabSize, baseModel?.Report.TrainTokens ?? 0,
                (int)(baseModel is null ? 0 : pretrainSteps), pretrainValid, s.SftSteps, sftBefore, sftAfter, clock.Elapsed.TotalSeconds,
                baseModel?.Report, baseModel?.Folder);
            AtomicOutput.WriteAllText(Path.Combine(dir, LogFile), rows.ToString());
            string modelDir = Path.Combine(dir, ModelDir);
            if (Directory.Exists(modelDir)) Directory.Delete(modelDir, recursive: true); // a half-written folder of a killed run
            Gpt2Folder.Save(model, modelDir, prefix, new Dictionary<string, string> { ["rs.kind"] = "text-init", ["rs.seed"] = seed.ToString(CultureInfo.InvariantCulture) });
            AtomicOutput.WriteAllText(reportPath, Numerics.FiniteJson.Serialize(report, reportPath));
            return report;
        }
    }

    public static TextInitReport ReadReport(string dir)
    {
        string path = Path.Combine(dir, ReportFile);
        return JsonSerializer.Deserialize<TextInitReport>(File.ReadAllText(path)) ?? throw new SoupInputException($"{path}: empty");
    }
}
