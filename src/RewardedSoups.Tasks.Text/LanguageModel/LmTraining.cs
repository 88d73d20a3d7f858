using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// Settings of a causal language-model training (pre-training and the supervised stage): AdamW with a
/// linear warm-up then a cosine decay to a tenth of the peak, gradient-norm clipping, random windows
/// of <see cref="Context"/> tokens from a token stream, a validation loss every <see cref="EvalEvery"/>
/// steps over the whole validation stream.
/// </summary>
public sealed record LmTrainSettings
{
    public int Steps { get; init; } = 2000;
    public int BatchSize { get; init; } = 32;
    public int Context { get; init; } = 64;
    public double LearningRate { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.1;
    public double MaxGradNorm { get; init; } = 1.0;
    public int EvalEvery { get; init; } = 250;

    public void Validate()
    {
        void Check(bool ok, string what) { if (!ok) throw new SoupInputException($"language-model training: {what}"); }
        Check(Steps >= 1, $"steps must be ≥ 1, got {Steps}");
        Check(BatchSize >= 1, $"batch size must be ≥ 1, got {BatchSize}");
        Check(Context >= 2, $"context must be ≥ 2 tokens, got {Context}");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"learning rate must be > 0, got {LearningRate}");
        Check(WarmupSteps >= 0, $"warm-up steps must be ≥ 0, got {WarmupSteps}");
        Check(WeightDecay >= 0, $"weight decay must be ≥ 0, got {WeightDecay}");
        Check(MaxGradNorm > 0, $"max grad norm must be > 0, got {MaxGradNorm}");
        Check(EvalEvery >= 1, $"eval_every must be ≥ 1, got {EvalEvery}");
    }

    /// <summary>Learning rate at step <paramref name="step"/> (0-based): warm-up, then cosine to 10% of the peak.</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        double progress = Steps <= WarmupSteps ? 1 : (double)(step - WarmupSteps) / (Steps - WarmupSteps);
        return LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress))));
    }
}

/// <summary>One logged point of a language-model training.</summary>
public sealed record LmTrainLog(int Step, double TrainLoss, double? ValidLoss, double LearningRate, double TokensPerSecond);

/// <summary>
/// Trains a <see cref="Gpt2Model"/> on a token stream with next-token cross-entropy. Deterministic for
/// a seed (windows are drawn from a seeded generator; MKL_CBWR is set by the scripts). Validation
/// loss is the mean over all non-overlapping windows of the validation stream, so it is comparable
/// between runs; its exponential is the perplexity per token of the tokenizer used.
/// </summary>
public static class LmTraining
{
    /// <summary>
    /// GPT-2's initialisation for a model trained from scratch: weights N(0, 0.02), the residual
    /// projections (<c>c_proj</c>) N(0, 0.02/√(2·layers)), biases zero, LayerNorms one and zero.
    /// TorchSharp's Embedding default (N(0, 1)) with a tied head would start the loss near 40 nats.
    /// </summary>
    public static void InitializeFromScratch(Gpt2Model model, int seed) => TorchRandom.Seeded(seed, () =>
    {
        double residual = 0.02 / Math.Sqrt(2.0 * model.Config.Layers);
        using var noGrad = no_grad();
        foreach ((string name, Parameter p) in model.named_parameters())
        {
            if (name.Contains(".ln_") || name.Contains("ln_f")) { if (name.EndsWith("weight")) p.fill_(Scalars.One); else p.zero_(); }
            else if (name.EndsWith("bias")) p.zero_();
            else if (name.EndsWith("c_proj.weight")) nn.init.normal_(p, 0, residual);
            else nn.init.normal_(p, 0, 0.02);
        }
        return model;
    });

    /// <summary>
    /// Trains for <see cref="LmTrainSettings.Steps"/> steps. With <paramref name="checkpointPath"/>, the training state
    /// (weights, AdamW's moments and steps, the step reached, the logs so far) is written there atomically after every
    /// logged point, and a training that finds it continues from it: the windows' generator is replayed to the step
    /// reached, so the result is the bytes of a training never stopped. The logs returned include the restored ones.
    /// </summary>
    public static List<LmTrainLog> Train(Gpt2Model model, int[] train, int[] valid, LmTrainSettings s, int seed,
        Action<LmTrainLog>? onLog = null, CancellationToken cancel = default, string? checkpointPath = null)
    {
        s.Validate();
        if (train.Length < s.Context + 2) throw new SoupInputException($"language-model training: {train.Length} training tokens, fewer than one window of {s.Context + 1}");
        if (s.Context > model.Config.Positions) throw new SoupInputException($"language-model training: context {s.Context} exceeds the model's {model.Config.Positions} positions");
        var logs = new List<LmTrainLog>();
        var rng = new Random(seed);
        // Weight decay on matrices only (GPT-2 practice): not on biases, LayerNorm gains or position embeddings.
        var decay = new List<(string Name, Parameter P)>();
        var plain = new List<(string Name, Parameter P)>();
        foreach ((string name, Parameter p) in model.named_parameters())
            (p.dim() >= 2 && !name.Contains("wpe") ? decay : plain).Add((name, p));
        using var optimizer = KeptAliveAdam.AdamW(
            [new AdamW.ParamGroup(decay.Select(d => d.P), new AdamW.Options { weight_decay = s.WeightDecay }),
             new AdamW.ParamGroup(plain.Select(d => d.P), new AdamW.Options { weight_decay = 0 })],
            lr: s.LearningRate, beta1: 0.9, beta2: 0.95);
        var ordered = decay.Concat(plain).ToList(); // the optimiser's state, in its parameters' order
        long[] batch = new long[s.BatchSize * (s.Context + 1)];
        int first = 0;
        if (checkpointPath is not null && File.Exists(checkpointPath))
        {
            (first, List<LmTrainLog> restored) = LmTrainingState.Restore(checkpointPath, optimizer, ordered, s);
            logs.AddRange(restored);
            // The windows drawn before the step reached, drawn again: the generator is where it was.
            for (long i = (long)first * s.BatchSize; i > 0; i--) rng.Next(train.Length - s.Context - 1);
        }
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0, tokensSince = 0;
        model.train();
        for (int step = first; step < s.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            // Native memory some TorchSharp objects hold is freed by their finalizers, which run only after a
            // collection; a step allocates little managed memory and runs inside a no-GC region (ScalarGuard), so
            // without this the process grew by megabytes per step (7 GB at step 600 of the 4 × 128 model, 2026-12-03).
            // A collection every 25 steps keeps it flat (measured: 462 MB after 300 steps against 664 MB and rising)
            // and costs nothing visible; it changes no number.
            if (step % 25 == 0) { GC.Collect(); GC.WaitForPendingFinalizers(); }
            using ScalarGuard.Span guard = ScalarGuard.Enter();
            double lr = s.LearningRateAt(step);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            for (int b = 0; b < s.BatchSize; b++)
            {
                int start = rng.Next(train.Length - s.Context - 1);
                for (int t = 0; t <= s.Context; t++) batch[b * (s.Context + 1) + t] = train[start + t];
            }
            using (NewDisposeScope())
            {
                Tensor tokens = tensor(batch, [s.BatchSize, s.Context + 1]);
                Tensor loss = Loss(model, tokens);
                int at = step + 1;
                lossSum += OptimiserStep.Apply(optimizer, loss, model.parameters(), s.MaxGradNorm, () => $"language-model training step {at}");
                lossCount++;
            }
            tokensSince += s.BatchSize * s.Context;
            bool last = step == s.Steps - 1;
            if ((step + 1) % s.EvalEvery == 0 || last)
            {
                double elapsed = clock.Elapsed.TotalSeconds;
                double? validLoss = valid.Length > s.Context ? ValidationLoss(model, valid, s.Context, s.BatchSize) : null;
                model.train();
                var log = new LmTrainLog(step + 1, lossSum / lossCount, validLoss, lr, tokensSince / Math.Max(elapsed, 1e-9));
                logs.Add(log);
                if (checkpointPath is not null) LmTrainingState.Write(checkpointPath, optimizer, ordered, step + 1, logs, s);
                onLog?.Invoke(log);
                lossSum = 0;
                lossCount = 0;
                tokensSince = 0;
                clock.Restart();
            }
        }
        model.eval();
        return logs;
    }

    /// <summary>Mean next-token cross-entropy (nats per token) over every full window of <paramref name="stream"/>.</summary>
    public static double ValidationLoss(Gpt2Model model, int[] stream, int context, int batchSize)
    {
        model.eval();
        int windows = (stream.Length - 1) / context;
        if (windows == 0) throw new SoupInputException($"validation stream of {stream.Length} tokens is shorter than one window of {context + 1}");
        double total = 0;
        using var noGrad = no_grad();
        for (int w0 = 0; w0 < windows; w0 += batchSize)
        {
            using ScalarGuard.Span guard = ScalarGuard.Enter();
            int n = Math.Min(batchSize, windows - w0);
            long[] batch = new long[n * (context + 1)];
            for (int b = 0; b < n; b++)
                for (int t = 0; t <= context; t++) batch[b * (context + 1) + t] = stream[(w0 + b) * context + t];
            using var scope = NewDisposeScope();
            total += Loss(model, tensor(batch, [n, context + 1])).item<float>() * n;
        }
        return total / windows;
    }

    /// <summary>Cross-entropy of predicting tokens[:, 1:] from tokens[:, :-1].</summary>
    private static Tensor Loss(Gpt2Model model, Tensor tokens)
    {
        Tensor input = tokens[.., ..^1];
        Tensor target = tokens[.., 1..];
        Tensor logits = model.call(input);
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), target.reshape(-1));
    }
}

/// <summary>Writes a model as a Hugging Face GPT-2 folder: <c>config.json</c>, <c>model.safetensors</c> and our tokenizer note.</summary>
public static class Gpt2Folder
{
    public const string WeightsFile = "model.safetensors";

    public static void Save(Gpt2Model model, string folder, int? tokenizerPrefix, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(folder);
        Gpt2Config c = model.Config;
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["model_type"] = "gpt2",
            ["vocab_size"] = c.VocabSize,
            ["n_positions"] = c.Positions,
            ["n_ctx"] = c.Positions,
            ["n_embd"] = c.Embedding,
            ["n_layer"] = c.Layers,
            ["n_head"] = c.Heads,
            ["activation_function"] = "gelu_new",
            ["layer_norm_epsilon"] = c.LayerNormEpsilon,
            ["bos_token_id"] = c.VocabSize - 1,
            ["eos_token_id"] = c.VocabSize - 1,
            ["tie_word_embeddings"] = true,
            ["torch_dtype"] = "float32",
        };
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null) foreach ((string k, string v) in metadata) meta[k] = v;
        TrainedCheckpoint.Write(Path.Combine(folder, WeightsFile), ModuleTensors.Export(model), meta);
        if (tokenizerPrefix is int size)
            AtomicOutput.WriteAllText(Path.Combine(folder, TextTokenizers.TokenizerFile), JsonSerializer.Serialize(new TextTokenizers.TokenizerInfo("gpt2-prefix", size)));
        // config.json last: a folder with config.json is complete.
        AtomicOutput.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Formats a loss and its perplexity for logs.</summary>
    public static string Perplexity(double loss) => $"{loss.ToString("F3", CultureInfo.InvariantCulture)} nats/token (perplexity {Math.Exp(loss).ToString("F1", CultureInfo.InvariantCulture)})";
}
