using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>The text ensemble: next-token logits Σ λᵢ ℓᵢ, sampled as one model's are.</summary>
[Collection(nameof(LmPpoTests))]
public sealed class Gpt2EnsembleTests
{
    private static Tensor Prompts(int batch, int length, int seed) => Gpt2SamplingTests.Prompts(batch, length, seed);

    [Fact]
    public void OneMemberWithWeightOne_SamplesExactlyAsTheModelAlone()
    {
        using Gpt2Model model = TinyGpt.Create(11);
        using var scope = NewDisposeScope();
        var settings = new SamplingSettings { MinNewTokens = 4, MaxNewTokens = 9, TopK = 5 };
        Tensor prompts = Prompts(6, 5, 11);
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        using Generation alone = Gpt2Sampling.Generate(model, prompts, settings, g1);
        using Generation ensemble = Gpt2Sampling.Generate([(model, 1.0)], prompts, settings, g2);
        Assert.Equal(alone.Tokens.data<long>().ToArray(), ensemble.Tokens.data<long>().ToArray());
    }

    [Fact]
    public void FirstToken_IsASampleOfSoftmaxOfTheWeightedLogits_ComputedByHand()
    {
        using Gpt2Model a = TinyGpt.Create(12);
        using Gpt2Model b = TinyGpt.Create(13);
        using var scope = NewDisposeScope();
        const double wa = 0.3, wb = 0.7, temperature = 0.8;
        var settings = new SamplingSettings { MinNewTokens = 2, MaxNewTokens = 3, Temperature = temperature };
        Tensor prompts = Prompts(16, 6, 12);
        using var generator = new Generator(99);
        var tally = new InferenceTally();
        using Generation g = Gpt2Sampling.Generate([(a, wa), (b, wb)], prompts, settings, generator, tally: tally);
        long[] first = g.Tokens.select(1, 6).data<long>().ToArray();

        // By hand: the distribution softmax((0.3 ℓa + 0.7 ℓb) / T), and the very draws the sampler makes from that seed.
        using var noGrad = no_grad();
        Tensor la = a.Logits(a.Hidden(prompts).select(1, -1)).to(float64), lb = b.Logits(b.Hidden(prompts).select(1, -1)).to(float64);
        Tensor combined = (la * wa + lb * wb) / temperature;
        Tensor p = combined.softmax(1);
        Assert.True((p.sum(1) - 1.0).abs().max().item<double>() < 1e-9);
        using var replay = new Generator(99);
        _ = randint(settings.MinNewTokens, settings.MaxNewTokens + 1, [16], dtype: int64, generator: replay);
        using TorchSharp.Scalar low = 1e-20, high = 1 - 1e-7;
        Tensor u = rand([16, TinyGpt.Vocab], generator: replay).clamp(low, high).to(float64);
        long[] expected = (p.log() - u.log().neg().log()).argmax(1).data<long>().ToArray();
        Assert.Equal(expected, first);
        // Not a copy of either member: with these weights some first tokens differ from each model's own argmax draw.
        long[] ofA = ((la / temperature).log_softmax(1) - u.log().neg().log()).argmax(1).data<long>().ToArray();
        long[] ofB = ((lb / temperature).log_softmax(1) - u.log().neg().log()).argmax(1).data<long>().ToArray();
        Assert.True(!expected.SequenceEqual(ofA) || !expected.SequenceEqual(ofB));
        // Two members, each computing every prompt position once and then one position per new token.
        Assert.Equal(2L * 16 * (6 + 2), tally.ForwardPasses);
    }

    [Fact]
    public void WeightsThatAreNotPositive_AreRefused()
    {
        using Gpt2Model a = TinyGpt.Create(14);
        using var scope = NewDisposeScope();
        using var generator = new Generator(1);
        var e = Assert.Throws<SoupInputException>(() => Gpt2Sampling.Generate([(a, 0.0)], Prompts(2, 4, 1), new SamplingSettings(), generator));
        Assert.Contains("weight must be a finite number > 0", e.Message);
    }
}
