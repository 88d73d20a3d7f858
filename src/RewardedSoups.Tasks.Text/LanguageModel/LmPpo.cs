using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// Settings of PPO for a language model with a KL penalty to the reference model, and the <c>text.ppo</c>
/// section of a text experiment (each key the snake_case of its property). Defaults are the text task's,
/// measured on 2 CPU cores (docs/lm-ppo.md); TRL's <c>PPOConfig</c> values (Ziegler et al. 2019's) are
/// named where they differ: batch 32 responses in 2 minibatches (TRL: 256 in 16; on 2 CPU cores a smaller
/// batch gives many more updates per hour), Adam at 3e-3 because only LoRA factors and the value head train
/// (TRL's 1.41e-5 is for full fine-tuning), gradient norm clipped at 1. The sampling of responses
/// (<see cref="Temperature"/>, lengths, prompt tokens) is not a key of this section: the task sets it from
/// its own keys, so that training and evaluation sample alike.
/// </summary>
public sealed record LmPpoSettings : ISettingsSection
{
    /// <summary>Responses sampled per update (<see cref="ResponsesPerPrompt"/> per prompt; TRL: 256).</summary>
    [Range(2, 4096)]
    public int Batch { get; init; } = 32;

    /// <summary>
    /// Responses sampled per prompt in a batch (k; TRL: 1). With k &gt; 1 each score is taken relative to
    /// the mean score of the prompt's other k − 1 responses (the leave-one-out baseline of RLOO, Ahmadian
    /// et al. 2024) before it enters the rewards: a baseline that depends on the prompt alone leaves the
    /// policy gradient unbiased and removes the part of the score that the prompt, not the response,
    /// decides — for a reward like similarity to a reference, most of its variance. Must divide the batch.
    /// </summary>
    [Range(1, 4096)]
    public int ResponsesPerPrompt { get; init; } = 1;

    /// <summary>Minibatches per epoch over the batch; must divide it (TRL: 16).</summary>
    [Range(1, 4096)]
    public int Minibatches { get; init; } = 2;

    /// <summary>Epochs over each batch (TRL ppo_epochs 4).</summary>
    [Range(1, 1000)]
    public int Epochs { get; init; } = 4;

    /// <summary>Adam learning rate of the LoRA factors and the value head (TRL: 1.41e-5, for full fine-tuning).</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double Lr { get; init; } = 3e-3;

    /// <summary>Initial KL coefficient β (TRL init_kl_coef 0.2).</summary>
    [Range(0.0, double.MaxValue)]
    public double KlInit { get; init; } = 0.1;

    /// <summary>Adapt β towards <see cref="KlTarget"/> (Ziegler et al.); off: β stays <see cref="KlInit"/>.</summary>
    public bool AdaptiveKl { get; init; } = true;

    /// <summary>Target KL(π‖π_ref) per response, in nats (TRL target 6).</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double KlTarget { get; init; } = 6;

    /// <summary>Horizon of the adaptive controller, in responses (TRL horizon 10000; 640 = 20 batches of 32 here).</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true)]
    public double KlHorizon { get; init; } = 640;

    /// <summary>Discount γ over response tokens (1: the score counts fully at every token).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public float Gamma { get; init; } = 1f;

    /// <summary>GAE λ.</summary>
    [Range(0.0, 1.0)]
    public float Lam { get; init; } = 0.95f;

    /// <summary>Clipping ε of the policy ratio.</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)]
    public float ClipRange { get; init; } = 0.2f;

    /// <summary>Clipping of the value change from the rollout's value.</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)]
    public float ClipRangeValue { get; init; } = 0.2f;

    /// <summary>Value-loss coefficient.</summary>
    [Range(0.0, 1e6)]
    public float VfCoef { get; init; } = 0.1f;

    /// <summary>Global gradient-norm clip over the trained parameters.</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)]
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Sampling temperature, set by the task (<c>text.temperature</c>); log-probabilities of the policy and the reference use it too, so the ratio and the KL are of the distribution sampled.</summary>
    [JsonIgnore]
    public double Temperature { get; init; } = 1.0;

    /// <summary>Top-k of sampling, set by the task (0: off, as in TRL's RLHF examples; a cut distribution makes the KL estimate biased).</summary>
    [JsonIgnore]
    public int TopK { get; init; }

    /// <summary>Tokens of each prompt the policy sees, set by the task (prompts are cut to this; a shorter one is an error).</summary>
    [JsonIgnore]
    public int PromptTokens { get; init; } = 8;

    /// <summary>Shortest response, in tokens, set by the task (<c>text.response_min</c>).</summary>
    [JsonIgnore]
    public int ResponseMin { get; init; } = 16;

    /// <summary>Longest response, in tokens, set by the task (<c>text.response_max</c>); each sample's length is uniform in [min, max].</summary>
    [JsonIgnore]
    public int ResponseMax { get; init; } = 24;

    [JsonIgnore]
    public int MinibatchSize => Batch / Minibatches;

    [JsonIgnore]
    public SamplingSettings Sampling => new() { Temperature = Temperature, TopK = TopK, MinNewTokens = ResponseMin, MaxNewTokens = ResponseMax };

    /// <summary>Minibatches and responses per prompt divide the batch.</summary>
    public void Check(SettingsCheck check)
    {
        if (Batch % Minibatches != 0) throw check.Fail("minibatches", $"{Minibatches} does not divide {check.Key("batch")} {Batch}");
        if (Batch % ResponsesPerPrompt != 0) throw check.Fail("responses_per_prompt", $"{ResponsesPerPrompt} does not divide {check.Key("batch")} {Batch}");
    }

    /// <summary>Checks settings built in code (the section's keys, then the sampling the task set): one line naming the first at fault.</summary>
    public void Validate()
    {
        SettingsSection.Validate(this, "lm-ppo");
        if (PromptTokens < 1) throw new SoupInputException($"lm-ppo: prompt_tokens must be ≥ 1, got {PromptTokens}");
        Sampling.Validate("lm-ppo");
    }
}

/// <summary>
/// The KL coefficient β. Adaptive (Ziegler et al. 2019, §2.2, as TRL's AdaptiveKLController):
/// e = clip(KL/target − 1, −0.2, 0.2), β ← β·(1 + e·n/horizon) after a batch of n responses whose mean
/// KL was KL; fixed: β never changes.
/// </summary>
public sealed class KlController(double init, double? target, double horizon)
{
    public double Value { get; set; } = init;

    public void Update(double currentKl, int responses)
    {
        if (target is not double t) return;
        double error = Math.Clamp(currentKl / t - 1, -0.2, 0.2);
        Value *= 1 + error * responses / horizon;
    }
}

/// <summary>The value head of TRL's <c>AutoModelForCausalLMWithValueHead</c>: one linear unit on the final hidden state (without its dropout).</summary>
public sealed class LmValueHead : nn.Module<Tensor, Tensor>
{
    /// <summary>TRL's key prefix: <c>v_head.summary.weight</c> [1, n_embd], <c>v_head.summary.bias</c> [1].</summary>
    public const string Prefix = "v_head.";

#pragma warning disable IDE1006
    private readonly Linear summary;
#pragma warning restore IDE1006

    /// <summary>nn.Linear's initialisation, U(−1/√n, 1/√n) for weight and bias, drawn from <paramref name="generator"/>.</summary>
    public LmValueHead(int embedding, Generator generator) : base(nameof(LmValueHead))
    {
        summary = nn.Linear(embedding, 1);
        double bound = 1 / Math.Sqrt(embedding);
        using (no_grad())
        {
            summary.weight!.copy_(rand([1, embedding], generator: generator) * (2 * bound) - bound);
            summary.bias!.copy_(rand([1], generator: generator) * (2 * bound) - bound);
        }
        RegisterComponents();
    }

    /// <summary>Values <c>[…]</c> of hidden states <c>[…, n_embd]</c>.</summary>
    public override Tensor forward(Tensor hidden) => summary.call(hidden).squeeze(-1);

    public List<(TensorSpec Spec, byte[] Data)> Tensors() =>
        ModuleTensors.Export(this).Select(t => (t.Spec with { Name = Prefix + t.Spec.Name }, t.Data)).ToList();

    public void Save(string path) => TrainedCheckpoint.Write(path, Tensors(), new Dictionary<string, string> { ["format"] = "pt", ["rs.kind"] = "value-head" });
}

/// <summary>A prompt and whatever the scorer needs beside it (a reference continuation, a label); the trainer never looks inside <see cref="Item"/>.</summary>
public sealed record LmPrompt(string Text, object? Item = null);

/// <summary>One sampled response as a scorer sees it: the prompt as the policy saw it (cut to its tokens), the response text and ids, the prompt's item.</summary>
public sealed record LmSample(string Prompt, string Response, IReadOnlyList<int> ResponseTokens, object? Item);

/// <summary>Scores a batch of responses: one finite number per sample, in order. The task supplies it (a sentiment lexicon, a sentence encoder, …).</summary>
public delegate double[] LmScorer(IReadOnlyList<LmSample> batch);

/// <summary>One row of the training log (TRL's metric names in the CSV).</summary>
public sealed record LmUpdateLog(
    int Update, long Samples, double ScoreMean, double ScoreStd, double Kl, double KlCoef, double NonScoreReward,
    double PolicyLoss, double ValueLoss, double ClipFraction, double ValueClipFraction, double ApproxKl, double Entropy,
    double ResponseLength, double TokensPerSecond, double GenerationSeconds, double OptimiseSeconds);

/// <summary>Token-level PPO arithmetic, on spans laid out <c>[batch, max response]</c>.</summary>
public static class LmPpoMath
{
    /// <summary>
    /// GAE over each sample's own response tokens (the value after its last token is 0: the episode
    /// ends there): δₜ = rₜ + γVₜ₊₁ − Vₜ, Aₜ = δₜ + γλAₜ₊₁; returns Aₜ + Vₜ. Positions past a sample's
    /// length get 0.
    /// </summary>
    public static void Gae(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<int> lengths, int maxLength,
        float gamma, float lam, Span<float> advantages, Span<float> returns)
    {
        advantages.Clear();
        returns.Clear();
        for (int i = 0; i < lengths.Length; i++)
        {
            int row = i * maxLength;
            float last = 0;
            for (int t = lengths[i] - 1; t >= 0; t--)
            {
                float next = t + 1 < lengths[i] ? values[row + t + 1] : 0f;
                float delta = rewards[row + t] + gamma * next - values[row + t];
                last = delta + gamma * lam * last;
                advantages[row + t] = last;
                returns[row + t] = last + values[row + t];
            }
        }
    }

    /// <summary>
    /// Scores relative to their group's leave-one-out mean: the batch is consecutive groups of
    /// <paramref name="k"/> responses to one prompt, and sᵢ becomes sᵢ − mean of the group's other
    /// k − 1 scores. k = 1 returns the scores unchanged (no baseline but the value head).
    /// </summary>
    public static double[] LeaveOneOut(IReadOnlyList<double> scores, int k)
    {
        if (k < 1 || scores.Count % k != 0) throw new ArgumentException($"{scores.Count} scores are not groups of {k}", nameof(k));
        var result = scores.ToArray();
        if (k == 1) return result;
        for (int g = 0; g < scores.Count; g += k)
        {
            double sum = 0;
            for (int j = 0; j < k; j++) sum += scores[g + j];
            for (int j = 0; j < k; j++) result[g + j] = scores[g + j] - (sum - scores[g + j]) / (k - 1);
        }
        return result;
    }

    /// <summary>
    /// (x − mean)/√(var + 1e-8) over the positions where <paramref name="mask"/> is non-zero, with the
    /// unbiased variance (TRL's masked_whiten); other positions get 0.
    /// </summary>
    public static void Whiten(ReadOnlySpan<float> x, ReadOnlySpan<float> mask, Span<float> output)
    {
        double n = 0, sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (mask[i] == 0) continue;
            n++;
            sum += x[i];
        }
        double mean = n > 0 ? sum / n : 0, squares = 0;
        for (int i = 0; i < x.Length; i++)
            if (mask[i] != 0) squares += (x[i] - mean) * (x[i] - mean);
        double variance = n > 1 ? squares / (n - 1) : 0;
        double scale = 1 / Math.Sqrt(variance + 1e-8);
        for (int i = 0; i < x.Length; i++) output[i] = mask[i] != 0 ? (float)((x[i] - mean) * scale) : 0f;
    }
}

/// <summary>
/// PPO for a causal language model as in Ziegler et al. 2019 and TRL's PPOTrainer: sample a response
/// per prompt from the LoRA policy; per-token reward −β(log π − log π_ref) against the base model (the
/// same weights with the adapter off), plus the task's score on each response's last token; a value
/// head on the final hidden state; GAE (γ = 1, λ = 0.95) over response tokens; whitened advantages;
/// clipped policy and value losses over several epochs of minibatches; β adapted towards a target KL.
/// The trainer owns the adapter's and value head's optimiser, β and the random generator, so it can
/// save and resume exactly.
/// </summary>
public sealed class LmPpoTrainer : IDisposable
{
    private readonly Gpt2Model _model;
    private readonly Gpt2Lora _lora;
    private readonly LmValueHead _valueHead;
    private readonly Tokenizer _tokenizer;
    private readonly IReadOnlyList<LmPrompt> _prompts;
    private readonly long[] _promptIds;
    private readonly string[] _promptTexts;
    private readonly LmScorer _scorer;
    private readonly Adam _optimizer;
    private readonly Generator _generator;
    private readonly List<Parameter> _parameters;
    private readonly List<string> _parameterNames;
    private readonly int _seed;
    private int[]? _order;
    private int _orderEpoch = -1;

    public LmPpoTrainer(Gpt2Model model, Gpt2Lora lora, LmValueHead valueHead, Tokenizer tokenizer, IReadOnlyList<LmPrompt> prompts,
        LmScorer scorer, LmPpoSettings settings, int seed)
    {
        settings.Validate();
        if (prompts.Count == 0) throw new SoupInputException("lm-ppo: the prompt set is empty");
        if (settings.PromptTokens + settings.ResponseMax > model.Config.Positions)
            throw new SoupInputException($"lm-ppo: prompt_tokens {settings.PromptTokens} + response_max {settings.ResponseMax} exceed the model's n_positions {model.Config.Positions}");
        _model = model;
        _lora = lora;
        _valueHead = valueHead;
        _tokenizer = tokenizer;
        _prompts = prompts;
        (_promptIds, _promptTexts) = Gpt2Sampling.EncodePrompts(tokenizer, prompts.Select(p => p.Text).ToList(), settings.PromptTokens, model.Config.VocabSize);
        _scorer = scorer;
        Settings = settings;
        _seed = seed;
        Kl = new KlController(settings.KlInit, settings.AdaptiveKl ? settings.KlTarget : null, settings.KlHorizon);
        _parameters = [.. lora.Parameters(), .. valueHead.parameters()];
        _parameterNames = [.. lora.ParameterNames(), .. valueHead.named_parameters().Select(p => LmValueHead.Prefix + p.name)];
        _optimizer = KeptAliveAdam.Adam(_parameters, lr: settings.Lr);
        _generator = new Generator(unchecked((ulong)seed));
    }

    public LmPpoSettings Settings { get; }

    public KlController Kl { get; }

    /// <summary>Updates completed so far.</summary>
    public int Update { get; private set; }

    /// <summary>Responses sampled so far.</summary>
    public long Samples { get; private set; }

    /// <summary>Trains until <paramref name="totalSamples"/> responses (rounded up to whole batches), calling <paramref name="onUpdate"/> after each update.</summary>
    public void Train(long totalSamples, Action<LmUpdateLog> onUpdate, CancellationToken cancel = default)
    {
        LmPpoSettings s = Settings;
        int numUpdates = (int)((totalSamples + s.Batch - 1) / s.Batch);
        int b = s.Batch, p = s.PromptTokens, m = s.ResponseMax;
        var logp = new float[b * m];
        var refLogp = new float[b * m];
        var values = new float[b * m];
        var mask = new float[b * m];
        var rewards = new float[b * m];
        var advantages = new float[b * m];
        var returns = new float[b * m];
        while (Update < numUpdates)
        {
            cancel.ThrowIfCancellationRequested();
            using ScalarGuard.Span guard = ScalarGuard.Enter();   // closed before the checkpoint is written
            var clock = Stopwatch.StartNew();
            using var scope = NewDisposeScope();

            // Rollout: sample, score, and evaluate the policy, the value and the reference.
            int[] batch = PromptsOf(Update);
            var promptIds = new long[b * p];
            for (int i = 0; i < b; i++) _promptIds.AsSpan(batch[i] * p, p).CopyTo(promptIds.AsSpan(i * p));
            _lora.Training = null;
            using Generation generation = Gpt2Sampling.Generate(_model, tensor(promptIds, [b, p]), s.Sampling, _generator);
            double generationSeconds = clock.Elapsed.TotalSeconds;
            var samples = new LmSample[b];
            for (int i = 0; i < b; i++)
            {
                int[] response = generation.Response(i);
                samples[i] = new LmSample(_promptTexts[batch[i]], _tokenizer.Decode(response) ?? "", response, _prompts[batch[i]].Item);
            }
            double[] scores = _scorer(samples);
            if (scores.Length != b) throw new InvalidOperationException($"the scorer returned {scores.Length} scores for {b} responses");
            for (int i = 0; i < b; i++)
                if (!double.IsFinite(scores[i]))
                    throw new Numerics.NumericalFailureException($"training diverged: score {scores[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} for response {i} (\"{samples[i].Response}\") at LM-PPO update {Update + 1}");
            using (no_grad())
            {
                (Tensor lp, Tensor v, _) = Evaluate(generation.Tokens, p, withEntropy: false);
                lp.data<float>().CopyTo(logp);
                v.data<float>().CopyTo(values);
                using (_lora.Disable()) Evaluate(generation.Tokens, p, withEntropy: false).LogProbs.data<float>().CopyTo(refLogp);
                generation.Mask.data<float>().CopyTo(mask);
            }

            // Rewards: −β·(log π − log π_ref) per token, the score on each response's last token.
            double beta = Kl.Value, klSum = 0, nonScore = 0;
            for (int i = 0; i < b * m; i++)
            {
                float kl = (logp[i] - refLogp[i]) * mask[i];
                values[i] *= mask[i];
                rewards[i] = (float)(-beta * kl);
                klSum += kl;
                nonScore += rewards[i];
            }
            double[] centred = LmPpoMath.LeaveOneOut(scores, s.ResponsesPerPrompt);
            for (int i = 0; i < b; i++) rewards[i * m + generation.Lengths[i] - 1] += (float)centred[i];
            LmPpoMath.Gae(rewards, values, generation.Lengths, m, s.Gamma, s.Lam, advantages, returns);
            LmPpoMath.Whiten(advantages, mask, advantages);

            (double pg, double vf, double clip, double vclip, double approxKl, double entropy) =
                Optimise(generation.Tokens, p, logp, values, advantages, returns, mask);
            double meanKl = klSum / b;
            Kl.Update(meanKl, b);
            Update++;
            Samples += b;
            double seconds = clock.Elapsed.TotalSeconds;
            double scoreMean = scores.Average();
            double scoreStd = Math.Sqrt(scores.Sum(x => (x - scoreMean) * (x - scoreMean)) / (b - 1));
            double tokens = generation.Lengths.Sum();
            guard.Dispose();
            onUpdate(new LmUpdateLog(Update, Samples, scoreMean, scoreStd, meanKl, beta, nonScore / b, pg, vf, clip, vclip, approxKl, entropy,
                tokens / b, tokens / seconds, generationSeconds, seconds - generationSeconds));
        }
    }

    /// <summary>
    /// Log-probabilities <c>[n, m]</c> of the response tokens under the current model (temperature
    /// applied), the values <c>[n, m]</c> of the states they were sampled from, and optionally the
    /// per-token entropy. Only the m states that predict response tokens go through the head.
    /// </summary>
    private (Tensor LogProbs, Tensor Values, Tensor? Entropy) Evaluate(Tensor tokens, int p, bool withEntropy)
    {
        int m = (int)tokens.shape[1] - p;
        Tensor hidden = _model.Hidden(tokens).narrow(1, p - 1, m);                               // [n, m, c]
        using Scalar temperature = Settings.Temperature.ToScalar();
        Tensor logProbs = _model.Logits(hidden).div(temperature).log_softmax(-1);                // [n, m, vocab]
        Tensor chosen = logProbs.gather(2, tokens.narrow(1, p, m).unsqueeze(2)).squeeze(2);      // [n, m]
        Tensor? entropy = null;
        if (withEntropy)
        {
            using var noGrad = no_grad();
            entropy = -(logProbs.exp() * logProbs).sum(-1);                                      // [n, m]
        }
        return (chosen, _valueHead.call(hidden), entropy);
    }

    private (double, double, double, double, double, double) Optimise(Tensor tokens, int p, float[] logp, float[] values, float[] advantages, float[] returns, float[] mask)
    {
        LmPpoSettings s = Settings;
        int b = s.Batch, m = s.ResponseMax, mb = s.MinibatchSize;
        Tensor bLogp = tensor(logp, [b, m]), bValues = tensor(values, [b, m]), bAdv = tensor(advantages, [b, m]);
        Tensor bReturns = tensor(returns, [b, m]), bMask = tensor(mask, [b, m]);
        double pg = 0, vf = 0, clip = 0, vclip = 0, approxKl = 0, entropy = 0;
        int count = 0;
        _lora.Training = _generator;
        // Scalars held for the whole update (a temporary one can be finalized during the native call: KeptAliveAdam).
        using Scalar valueLow = (-s.ClipRangeValue).ToScalar(), valueHigh = s.ClipRangeValue.ToScalar(), ratioLow = (1 - s.ClipRange).ToScalar(), ratioHigh = (1 + s.ClipRange).ToScalar();
        for (int epoch = 0; epoch < s.Epochs; epoch++)
        {
            Tensor order = randperm(b, generator: _generator);
            for (int start = 0; start < b; start += mb)
            {
                using var step = NewDisposeScope();
                Tensor idx = order.narrow(0, start, mb);
                Tensor mk = bMask.index_select(0, idx);                                          // [mb, m]
                Tensor n = mk.sum();
                Tensor Mean(Tensor x) => (x * mk).sum() / n;
                (Tensor newLogp, Tensor vpred, Tensor? ent) = Evaluate(tokens.index_select(0, idx), p, withEntropy: true);
                Tensor oldV = bValues.index_select(0, idx), ret = bReturns.index_select(0, idx), adv = bAdv.index_select(0, idx);
                Tensor vClipped = oldV + (vpred - oldV).clamp(valueLow, valueHigh);
                Tensor vLoss1 = (vpred - ret).square(), vLoss2 = (vClipped - ret).square();
                Tensor vfLoss = 0.5 * Mean(maximum(vLoss1, vLoss2));
                Tensor logRatio = newLogp - bLogp.index_select(0, idx);
                Tensor ratio = logRatio.exp();
                Tensor pgLoss1 = -adv * ratio, pgLoss2 = -adv * ratio.clamp(ratioLow, ratioHigh);
                Tensor pgLoss = Mean(maximum(pgLoss1, pgLoss2));
                Tensor loss = pgLoss + s.VfCoef * vfLoss;
                int e = epoch, minibatch = start / mb;
                OptimiserStep.Apply(_optimizer, loss, _parameters, s.MaxGradNorm, () => $"LM-PPO update {Update + 1}, epoch {e + 1}, minibatch {minibatch + 1}");
                using (no_grad())
                {
                    pg += pgLoss.item<float>();
                    vf += vfLoss.item<float>();
                    clip += Mean((pgLoss2 > pgLoss1).to(float32)).item<float>();
                    vclip += Mean((vLoss2 > vLoss1).to(float32)).item<float>();
                    approxKl += 0.5 * Mean(logRatio.square()).item<float>();
                    entropy += Mean(ent!).item<float>();
                }
                count++;
            }
        }
        _lora.Training = null;
        return (pg / count, vf / count, clip / count, vclip / count, approxKl / count, entropy / count);
    }

    /// <summary>
    /// The prompts of update <paramref name="update"/>: a stream of shuffled passes over the prompt set,
    /// each pass's order a function of the seed and the pass alone, so a resumed run picks the same ones;
    /// each prompt taken <see cref="LmPpoSettings.ResponsesPerPrompt"/> times in a row.
    /// </summary>
    private int[] PromptsOf(int update)
    {
        int n = _prompts.Count, r = Settings.ResponsesPerPrompt, distinct = Settings.Batch / r;
        var batch = new int[Settings.Batch];
        for (int k = 0; k < distinct; k++)
        {
            long g = (long)update * distinct + k;
            int pass = (int)(g / n);
            if (pass != _orderEpoch)
            {
                _order = Enumerable.Range(0, n).ToArray();
                // Not HashCode.Combine: it is salted per process, which made two runs of one job differ.
                new Random(PassSeed(_seed, pass)).Shuffle(_order);
                _orderEpoch = pass;
            }
            for (int j = 0; j < r; j++) batch[k * r + j] = _order![(int)(g % n)];
        }
        return batch;
    }

    /// <summary>The seed of pass <paramref name="pass"/>'s prompt order: a fixed function of (seed, pass), the same in every process.</summary>
    public static int PassSeed(int seed, int pass)
    {
        // SplitMix64 finaliser over (seed, pass).
        ulong z = unchecked(((ulong)(uint)seed << 32 | (uint)pass) + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)(uint)(z ^ (z >> 31));
    }

    /// <summary>
    /// Everything needed to resume: the adapter's factors (PEFT keys) and the value head (TRL keys),
    /// Adam's moments and step per parameter (<c>optim.NAME.*</c>), β (<c>kl.coef</c>), the generator's
    /// state (<c>rng.state</c>) and progress (<c>trainer.progress</c>: update, samples).
    /// </summary>
    public List<(TensorSpec Spec, byte[] Data)> StateTensors()
    {
        var tensors = new List<(TensorSpec Spec, byte[] Data)>();
        for (int i = 0; i < _parameters.Count; i++) tensors.Add(Export(_parameterNames[i], _parameters[i]));
        var states = _optimizer.state_dict().State;
        for (int i = 0; i < _parameters.Count; i++)
        {
            var adam = (Adam.State)states[i];
            tensors.Add(Export($"optim.{_parameterNames[i]}.exp_avg", adam.exp_avg));
            tensors.Add(Export($"optim.{_parameterNames[i]}.exp_avg_sq", adam.exp_avg_sq));
            tensors.Add((new TensorSpec($"optim.{_parameterNames[i]}.step", DType.I64, []), BitConverter.GetBytes(adam.step)));
        }
        tensors.Add((new TensorSpec("kl.coef", DType.F64, [1]), BitConverter.GetBytes(Kl.Value)));
        using Tensor rng = _generator.get_state();
        tensors.Add((new TensorSpec("rng.state", DType.U8, rng.shape), rng.bytes.ToArray()));
        tensors.Add((new TensorSpec("trainer.progress", DType.I64, [2]), [.. BitConverter.GetBytes((long)Update), .. BitConverter.GetBytes(Samples)]));
        return tensors;
    }

    /// <summary>Restores what <see cref="StateTensors"/> saved; a missing or mis-shaped tensor is an error naming it.</summary>
    public void RestoreState(Checkpoint checkpoint)
    {
        var states = _optimizer.state_dict().State;
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Count; i++)
        {
            Copy(checkpoint, _parameterNames[i], _parameters[i]);
            var adam = (Adam.State)states[i];
            Copy(checkpoint, $"optim.{_parameterNames[i]}.exp_avg", adam.exp_avg);
            Copy(checkpoint, $"optim.{_parameterNames[i]}.exp_avg_sq", adam.exp_avg_sq);
            adam.step = BitConverter.ToInt64(ReadAll(checkpoint, $"optim.{_parameterNames[i]}.step"));
        }
        Kl.Value = BitConverter.ToDouble(ReadAll(checkpoint, "kl.coef"));
        _generator.set_state(tensor(ReadAll(checkpoint, "rng.state"), dtype: uint8));
        byte[] progress = ReadAll(checkpoint, "trainer.progress");
        Update = (int)BitConverter.ToInt64(progress, 0);
        Samples = BitConverter.ToInt64(progress, 8);
    }

    private const string What = "a training checkpoint of this LM-PPO run";

    private static byte[] ReadAll(Checkpoint checkpoint, string name) => CheckpointTensors.ReadAll(checkpoint, name, What);

    private static void Copy(Checkpoint checkpoint, string name, Tensor target) => CheckpointTensors.Copy(checkpoint, name, target, What);

    private static (TensorSpec, byte[]) Export(string name, Tensor t) => CheckpointTensors.Export(name, t);

    public void Dispose()
    {
        _optimizer.Dispose();
        _generator.Dispose();
    }
}
