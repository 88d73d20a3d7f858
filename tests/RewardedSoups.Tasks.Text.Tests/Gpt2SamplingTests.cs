using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>Hidden states, the KV cache and batched sampling of <see cref="Gpt2Model"/>, on a tiny real model.</summary>
[Collection(nameof(LmPpoTests))]
public sealed class Gpt2SamplingTests
{
    /// <summary>Random prompts of the tiny model's vocabulary, <c>[batch, length]</c>.</summary>
    internal static Tensor Prompts(int batch, int length, int seed)
    {
        var random = new Random(seed);
        return tensor(Enumerable.Range(0, batch * length).Select(_ => (long)random.Next(TinyGpt.Vocab)).ToArray(), [batch, length]);
    }

    [Fact]
    public void Hidden_ThroughTiedHead_IsTheForwardPass()
    {
        using Gpt2Model model = TinyGpt.Create(1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor tokens = Prompts(3, 7, 1);
        Tensor hidden = model.Hidden(tokens);
        Assert.Equal(new long[] { 3, 7, TinyGpt.Config.Embedding }, hidden.shape);
        Assert.True(model.Logits(hidden).eq(model.call(tokens)).all().item<bool>());
    }

    [Fact]
    public void KvCache_PromptThenOneTokenAtATime_MatchesFullRecomputation()
    {
        using Gpt2Model model = TinyGpt.Create(2);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor tokens = Prompts(2, 12, 2);
        Tensor full = model.Hidden(tokens);                                   // [2, 12, c]
        using Gpt2KvCache cache = model.NewCache(2, 12);
        var parts = new List<Tensor> { model.Hidden(tokens.narrow(1, 0, 5), cache) };
        for (int t = 5; t < 12; t++) parts.Add(model.Hidden(tokens.narrow(1, t, 1), cache));
        Assert.Equal(12, cache.Length);
        Tensor incremental = cat(parts, 1);
        Assert.True(allclose(full, incremental, rtol: 1e-5, atol: 1e-5), $"max difference {(full - incremental).abs().max().item<float>()}");
        Assert.Throws<InvalidOperationException>(() => model.Hidden(tokens.narrow(1, 0, 1), cache)); // full
    }

    [Fact]
    public void Generate_WithAndWithoutCache_SameTokensForTheSameSeed()
    {
        using Gpt2Model model = TinyGpt.Create(3);
        using var scope = NewDisposeScope();
        var settings = new SamplingSettings { MinNewTokens = 3, MaxNewTokens = 11 };
        Tensor prompts = Prompts(8, 5, 3);
        using var g1 = new Generator(42);
        using var g2 = new Generator(42);
        using Generation cached = Gpt2Sampling.Generate(model, prompts, settings, g1);
        using Generation full = Gpt2Sampling.Generate(model, prompts, settings, g2, useCache: false);
        Assert.Equal(cached.Tokens.data<long>().ToArray(), full.Tokens.data<long>().ToArray());
        Assert.Equal(cached.Lengths, full.Lengths);
        Assert.True(cached.Tokens.narrow(1, 0, 5).eq(prompts).all().item<bool>());
        Assert.All(cached.Lengths, l => Assert.InRange(l, 3, 11));
        Assert.True(cached.Lengths.Distinct().Count() > 1, "lengths are drawn per sample");
        float[] mask = cached.Mask.data<float>().ToArray();
        long[] response = cached.Tokens.narrow(1, 5, 11).contiguous().data<long>().ToArray();
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(cached.Lengths[i], mask.Skip(i * 11).Take(11).Sum());
            for (int t = cached.Lengths[i]; t < 11; t++) Assert.Equal(Generation.PadToken, response[i * 11 + t]);
            Assert.Equal(cached.Lengths[i], cached.Response(i).Length);
        }
        using var g3 = new Generator(43);
        using Generation other = Gpt2Sampling.Generate(model, prompts, settings, g3);
        Assert.False(other.Tokens.eq(cached.Tokens).all().item<bool>());
    }

    /// <summary>Greedy decoding written out: the argmax of a full forward pass, token after token.</summary>
    private static long[] Greedy(Gpt2Model model, Tensor prompts, int steps)
    {
        using var noGrad = no_grad();
        Tensor tokens = prompts;
        for (int t = 0; t < steps; t++)
            tokens = cat([tokens, model.call(tokens).select(1, -1).argmax(1, keepdim: true)], 1);
        return tokens.contiguous().data<long>().ToArray();
    }

    [Fact]
    public void Generate_TemperatureNearZero_IsArgmax_AndTopOneIsArgmaxAtAnyTemperature()
    {
        using Gpt2Model model = TinyGpt.Create(4);
        using var scope = NewDisposeScope();
        Tensor prompts = Prompts(6, 4, 4);
        long[] greedy = Greedy(model, prompts, 8);
        using var g = new Generator(7);
        using Generation cold = Gpt2Sampling.Generate(model, prompts, new SamplingSettings { Temperature = 1e-5, MinNewTokens = 8, MaxNewTokens = 8 }, g);
        Assert.Equal(greedy, cold.Tokens.contiguous().data<long>().ToArray());
        using Generation topOne = Gpt2Sampling.Generate(model, prompts, new SamplingSettings { Temperature = 2, TopK = 1, MinNewTokens = 8, MaxNewTokens = 8 }, g);
        Assert.Equal(greedy, topOne.Tokens.contiguous().data<long>().ToArray());
        using Generation warm = Gpt2Sampling.Generate(model, prompts, new SamplingSettings { MinNewTokens = 8, MaxNewTokens = 8 }, g);
        Assert.NotEqual(greedy, warm.Tokens.contiguous().data<long>().ToArray());
    }

    [Fact]
    public void Generate_FrequenciesFollowTheTemperedSoftmax()
    {
        // One step from one prompt, repeated 4000 times: token frequencies ≈ softmax(logits / T).
        using Gpt2Model model = TinyGpt.Create(5);
        using var scope = NewDisposeScope();
        Tensor prompt = Prompts(1, 3, 5);
        Tensor logits;
        using (no_grad()) logits = model.call(prompt).select(1, -1).squeeze(0);
        double temperature = 0.5;
        double[] expected = softmax(logits / temperature, 0).to(float64).data<double>().ToArray();
        using var g = new Generator(9);
        using Generation many = Gpt2Sampling.Generate(model, prompt.expand(4000, 3).contiguous(), new SamplingSettings { Temperature = temperature, MinNewTokens = 1, MaxNewTokens = 1 }, g);
        long[] drawn = many.Tokens.select(1, 3).data<long>().ToArray();
        for (int v = 0; v < TinyGpt.Vocab; v++)
        {
            double frequency = drawn.Count(d => d == v) / 4000.0;
            Assert.True(Math.Abs(frequency - expected[v]) < 4 * Math.Sqrt(expected[v] * (1 - expected[v]) / 4000) + 1e-3, $"token {v}: {frequency} vs {expected[v]}");
        }
    }

    [Fact]
    public void GenerateText_EncodesPromptsAndDecodesResponses_Reproducibly()
    {
        using Gpt2Model model = TinyGpt.Create(6);
        var tokenizer = TinyGpt.Tokenizer();
        var settings = new SamplingSettings { MinNewTokens = 4, MaxNewTokens = 6 };
        string[] prompts = ["abcdef", "ponmlk", "aaaaaaa"];
        string[] a = Gpt2Sampling.GenerateText(model, tokenizer, prompts, 5, settings, seed: 3, batchSize: 2);
        string[] b = Gpt2Sampling.GenerateText(model, tokenizer, prompts, 5, settings, seed: 3, batchSize: 2);
        Assert.Equal(a, b);
        Assert.All(a, r => Assert.InRange(r.Length, 4, 6));
        Assert.All(a, r => Assert.All(r, ch => Assert.InRange(ch, 'a', 'p')));
        var e = Assert.Throws<SoupInputException>(() => Gpt2Sampling.GenerateText(model, tokenizer, ["abc"], 5, settings, seed: 3));
        Assert.Equal("prompt 0 (\"abc\") has 3 tokens, fewer than prompt_tokens 5", e.Message);
        var e2 = Assert.Throws<SoupInputException>(() => Gpt2Sampling.GenerateText(model, tokenizer, prompts, 5, settings with { MaxNewTokens = 40 }, seed: 3));
        Assert.Contains("exceed the model's n_positions 32", e2.Message);
    }

    [Fact]
    public void SamplingSettings_BadValues_NameTheSetting()
    {
        Assert.Contains("temperature", Assert.Throws<SoupInputException>(() => new SamplingSettings { Temperature = 0 }.Validate()).Message);
        Assert.Contains("top_k", Assert.Throws<SoupInputException>(() => new SamplingSettings { TopK = -1 }.Validate()).Message);
        Assert.Contains("response_max 3 is below response_min 4", Assert.Throws<SoupInputException>(() => new SamplingSettings { MinNewTokens = 4, MaxNewTokens = 3 }.Validate()).Message);
    }
}
