using System.Globalization;
using Microsoft.ML.Tokenizers;
using RewardedSoups.Learning;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Text;

/// <summary>How responses are sampled.</summary>
public sealed record SamplingSettings
{
    /// <summary>Softmax temperature: logits are divided by it (1: the model's own distribution; → 0: greedy).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Sample among the k most likely tokens only (0: all tokens, TRL's RLHF setting).</summary>
    public int TopK { get; init; }

    /// <summary>Shortest response, in tokens; each sample's length is drawn uniformly from [min, max].</summary>
    public int MinNewTokens { get; init; } = 16;

    /// <summary>Longest response, in tokens.</summary>
    public int MaxNewTokens { get; init; } = 24;

    public void Validate(string what = "sampling")
    {
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new SoupInputException($"{what}: temperature must be a finite number > 0, got {Temperature}");
        if (TopK < 0) throw new SoupInputException($"{what}: top_k must be ≥ 0 (0: off), got {TopK}");
        if (MinNewTokens < 1) throw new SoupInputException($"{what}: response_min must be ≥ 1, got {MinNewTokens}");
        if (MaxNewTokens < MinNewTokens) throw new SoupInputException($"{what}: response_max {MaxNewTokens} is below response_min {MinNewTokens}");
    }
}

/// <summary>
/// A batch of sampled sequences: <see cref="Tokens"/> <c>[b, prompt + max]</c> (int64) holds each prompt
/// followed by its response; response tokens past a sample's length are <see cref="PadToken"/> and
/// <see cref="Mask"/> <c>[b, max]</c> (float, 1 = part of the response) says which are real. Right
/// padding after a fixed-length prompt needs no attention mask: causal attention never lets a position
/// see the padding after it.
/// </summary>
public sealed class Generation : IDisposable
{
    public const long PadToken = 0;

    internal Generation(Tensor tokens, Tensor mask, int[] lengths, int promptLength)
    {
        Tokens = tokens;
        Mask = mask;
        Lengths = lengths;
        PromptLength = promptLength;
    }

    public Tensor Tokens { get; }

    public Tensor Mask { get; }

    /// <summary>Response length of each sample.</summary>
    public int[] Lengths { get; }

    public int PromptLength { get; }

    public int MaxNewTokens => (int)Tokens.shape[1] - PromptLength;

    /// <summary>The response token ids of sample <paramref name="i"/> (its length only).</summary>
    public int[] Response(int i)
    {
        using Tensor row = Tokens[i].narrow(0, PromptLength, Lengths[i]).cpu();
        return row.data<long>().Select(t => (int)t).ToArray();
    }

    public void Dispose()
    {
        Tokens.Dispose();
        Mask.Dispose();
    }
}

/// <summary>
/// Batched ancestral sampling from a <see cref="Gpt2Model"/>: temperature, optional top-k, a per-sample
/// response length in [min, max], every random draw from one seeded torch <see cref="Generator"/> so
/// that a seed gives the same tokens, with the KV cache or without it.
/// </summary>
public static class Gpt2Sampling
{
    /// <summary>
    /// Samples responses to <paramref name="prompts"/> <c>[b, p]</c> (int64). The lengths are drawn first,
    /// then one Gumbel noise draw <c>[b, vocab]</c> per position: argmax(logits/T + G) is a sample of
    /// softmax(logits/T), and tends to the argmax as T → 0. All samples run to the longest length (a
    /// batch steps together) and are cut to their own afterwards. <paramref name="useCache"/> off
    /// recomputes the whole sequence at every step (the reference the cache is tested against).
    /// </summary>
    public static Generation Generate(Gpt2Model model, Tensor prompts, SamplingSettings settings, Generator generator, bool useCache = true) =>
        Generate([(model, 1.0)], prompts, settings, generator, useCache);

    /// <summary>
    /// As above for an output-space ensemble of models sharing one vocabulary: the next-token logits are Σ λᵢ ℓᵢ
    /// (the policy ∝ Π πᵢ^{λᵢ} that multi-objective decoding prescribes for experts fine-tuned with a KL penalty to one
    /// reference, Shi et al. 2024), then sampled exactly as one model's are (temperature, top-k, the same random draws).
    /// Each member keeps its own KV cache. A single member with λ = 1 samples exactly as that model alone.
    /// <paramref name="tally"/> counts the token positions each member computes.
    /// </summary>
    public static Generation Generate(IReadOnlyList<(Gpt2Model Model, double Weight)> members, Tensor prompts, SamplingSettings settings, Generator generator,
        bool useCache = true, InferenceTally? tally = null)
    {
        settings.Validate();
        if (members.Count == 0) throw new SoupInputException("generation needs a model");
        Gpt2Model model = members[0].Model;
        foreach ((Gpt2Model m, double w) in members)
        {
            if (!(w > 0) || !double.IsFinite(w)) throw new SoupInputException($"an ensemble member's weight must be a finite number > 0, got {w}");
            if (m.Config.VocabSize != model.Config.VocabSize || m.Config.Positions != model.Config.Positions)
                throw new SoupInputException($"ensemble members differ: vocabulary {m.Config.VocabSize} and n_positions {m.Config.Positions} against {model.Config.VocabSize} and {model.Config.Positions}");
        }
        bool single = members.Count == 1 && members[0].Weight == 1;
        long b = prompts.shape[0];
        int p = (int)prompts.shape[1], max = settings.MaxNewTokens, vocab = model.Config.VocabSize;
        if (p < 1) throw new SoupInputException("a prompt needs at least one token");
        if (p + max > model.Config.Positions)
            throw new SoupInputException($"prompt {p} + response {max} tokens exceed the model's n_positions {model.Config.Positions}");
        using var outer = NewDisposeScope();
        using var noGrad = no_grad();
        using ScalarGuard.Span guard = ScalarGuard.Enter();
        Tensor lengths = randint(settings.MinNewTokens, max + 1, [b], dtype: int64, generator: generator); // [b]
        Tensor tokens = zeros([b, p + max], dtype: int64);                                                 // [b, p + max]
        tokens.narrow(1, 0, p).copy_(prompts);
        var caches = members.Select(m => useCache ? m.Model.NewCache(b, p + max) : null).ToArray();
        // Scalars held for the whole loop (a temporary one can be finalized during the native call: KeptAliveAdam).
        using Scalar temperature = settings.Temperature.ToScalar(), minusInfinity = double.NegativeInfinity.ToScalar(), uLow = 1e-20.ToScalar(), uHigh = (1 - 1e-7).ToScalar();
        Tensor[] weights = members.Select(m => tensor((float)m.Weight)).ToArray();   // 0-d, in the outer scope
        try
        {
            for (int t = 0; t < max; t++)
            {
                using var step = NewDisposeScope();
                Tensor? combined = null;
                for (int i = 0; i < members.Count; i++)
                {
                    Gpt2Model mi = members[i].Model;
                    Gpt2KvCache? cache = caches[i];
                    Tensor hidden = cache is null ? mi.Hidden(tokens.narrow(1, 0, p + t)) : mi.Hidden(t == 0 ? prompts : tokens.narrow(1, p + t - 1, 1), cache);
                    tally?.Add(b * hidden.shape[1]);
                    Tensor own = mi.Logits(hidden.select(1, -1));                                                 // [b, vocab]
                    combined = single ? own : combined is null ? own.mul(weights[i]) : combined.add(own.mul(weights[i]));
                }
                Tensor logits = combined!.div(temperature);                                                       // [b, vocab]
                if (settings.TopK > 0 && settings.TopK < vocab)
                {
                    Tensor kth = logits.topk(settings.TopK, dim: 1).values.narrow(1, settings.TopK - 1, 1);     // [b, 1]
                    logits = logits.masked_fill(logits < kth, minusInfinity);
                }
                // Gumbel noise −log(−log U); U kept off 0 and 1 so the noise stays finite.
                Tensor u = rand([b, vocab], generator: generator).clamp(uLow, uHigh);
                Tensor next = (logits - u.log().neg().log()).argmax(1);                                        // [b]
                tokens.select(1, p + t).copy_(next);
            }
        }
        finally
        {
            foreach (Gpt2KvCache? c in caches) c?.Dispose();
        }
        using Scalar stop = max.ToScalar(), pad = Generation.PadToken.ToScalar();
        Tensor mask = arange(stop, dtype: int64).unsqueeze(0).lt(lengths.unsqueeze(1));                    // [b, max]
        tokens.narrow(1, p, max).masked_fill_(mask.logical_not(), pad);
        int[] lengthArray = lengths.data<long>().Select(l => (int)l).ToArray();
        return new Generation(tokens.MoveToOuterDisposeScope(), mask.to(float32).MoveToOuterDisposeScope(), lengthArray, p);
    }

    /// <summary>
    /// Encodes prompts for a batch: the first <paramref name="promptTokens"/> tokens of each text (a
    /// shorter text, or a token the model's vocabulary lacks, is an error naming the prompt). Returns the
    /// ids <c>[n · promptTokens]</c> row by row and the prompts as those tokens decode.
    /// </summary>
    public static (long[] Ids, string[] Texts) EncodePrompts(Tokenizer tokenizer, IReadOnlyList<string> prompts, int promptTokens, int vocabSize)
    {
        if (promptTokens < 1) throw new SoupInputException($"prompt_tokens must be ≥ 1, got {promptTokens}");
        var ids = new long[prompts.Count * promptTokens];
        var texts = new string[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            IReadOnlyList<int> encoded = tokenizer.EncodeToIds(prompts[i]);
            if (encoded.Count < promptTokens)
                throw new SoupInputException(string.Create(CultureInfo.InvariantCulture, $"prompt {i} (\"{Shorten(prompts[i])}\") has {encoded.Count} tokens, fewer than prompt_tokens {promptTokens}"));
            for (int k = 0; k < promptTokens; k++)
            {
                if (encoded[k] >= vocabSize)
                    throw new SoupInputException(string.Create(CultureInfo.InvariantCulture, $"prompt {i} (\"{Shorten(prompts[i])}\"): token {encoded[k]} is outside the model's vocabulary of {vocabSize}"));
                ids[i * promptTokens + k] = encoded[k];
            }
            texts[i] = tokenizer.Decode(encoded.Take(promptTokens)) ?? "";
        }
        return (ids, texts);
    }

    /// <summary>
    /// Responses (text) of <paramref name="model"/> to <paramref name="prompts"/>, each cut to its first
    /// <paramref name="promptTokens"/> tokens, in batches of <paramref name="batchSize"/>, reproducibly for
    /// <paramref name="seed"/>. For evaluating a policy: load the base, load its adapter and merge it.
    /// </summary>
    public static string[] GenerateText(Gpt2Model model, Tokenizer tokenizer, IReadOnlyList<string> prompts, int promptTokens,
        SamplingSettings settings, int seed, int batchSize = 64) =>
        GenerateText([(model, 1.0)], tokenizer, prompts, promptTokens, settings, seed, batchSize);

    /// <summary>As above for an output-space ensemble (<see cref="Generate(IReadOnlyList{ValueTuple{Gpt2Model, double}}, Tensor, SamplingSettings, Generator, bool, InferenceTally?)"/>); <paramref name="tally"/> counts and times the generation.</summary>
    public static string[] GenerateText(IReadOnlyList<(Gpt2Model Model, double Weight)> members, Tokenizer tokenizer, IReadOnlyList<string> prompts, int promptTokens,
        SamplingSettings settings, int seed, int batchSize = 64, InferenceTally? tally = null)
    {
        if (members.Count == 0) throw new SoupInputException("generation needs a model");
        (long[] ids, _) = EncodePrompts(tokenizer, prompts, promptTokens, members[0].Model.Config.VocabSize);
        using var generator = new Generator(unchecked((ulong)seed));
        var responses = new string[prompts.Count];
        for (int start = 0; start < prompts.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, prompts.Count - start);
            using var scope = NewDisposeScope();
            Tensor batch = tensor(ids.AsSpan(start * promptTokens, n * promptTokens).ToArray(), [n, promptTokens]);
            using Generation g = tally is null ? Generate(members, batch, settings, generator) : tally.Time(() => Generate(members, batch, settings, generator, tally: tally));
            for (int i = 0; i < n; i++) responses[start + i] = tokenizer.Decode(g.Response(i)) ?? "";
        }
        return responses;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
