using RewardedSoups.Environments;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

/// <summary>The text task's two real reward terms, and that they pull apart on a negative review.</summary>
public sealed class TextRewardsTests
{
    [Fact]
    public void Score_PositivityAndFaithfulness_TradeOffOnANegativeReference()
    {
        using var rewards = new TextRewards();
        const string reference = "the battery died after two days and support never answered.";
        string[] continuations =
        [
            "the battery died after a couple of days and nobody from support replied.",
            "it is wonderful, great and amazing, I love it, excellent!",
        ];
        const string prompt = "I bought this phone and";
        double[][] terms = rewards.Score([prompt, prompt], continuations, [reference, reference]);
        // The faithful continuation makes a review closer to the real one; the glowing one is more positive.
        Assert.True(terms[0][1] > terms[1][1] + 0.15, $"faithfulness {terms[0][1]:F3} vs {terms[1][1]:F3}");
        Assert.True(terms[1][0] > terms[0][0] + 0.5, $"positivity {terms[1][0]:F3} vs {terms[0][0]:F3}");
        // positivity is sentiment's comparative score: (wonderful 4 + great 3 + amazing 4 + love 3 + excellent 3) / 10 tokens.
        Assert.Equal(17.0 / 10, terms[1][0], 9);
    }

    [Fact]
    public void Positivity_EndingAtOnceOnOneGlowingWord_DoesNotBeatAFullPositiveContinuation()
    {
        // The trick the positive expert learnt on the built-in base: "good." and the review ended.
        using var rewards = new TextRewards();
        double trick = rewards.Positivity(" good.");
        double full = rewards.Positivity(" a really good place, friendly staff and great food, we loved it.");
        double bland = rewards.Positivity(" a place on the corner of the street with a car park.");
        Assert.Equal(3.0 / 8, trick, 12); // good (+3) over 1 word, counted as 8
        // good 3 + friendly 2 + great 3 + loved 3 over 12 words: past the floor, sentiment's comparative exactly.
        Assert.Equal(11.0 / 12, full, 12);
        Assert.Equal(AfinnSentiment.Load().Analyze(" a really good place, friendly staff and great food, we loved it.").Comparative, full, 12);
        Assert.True(full > 2 * trick, $"full {full:F3} vs trick {trick:F3}");
        Assert.Equal(0, bland);
        Assert.Equal(0, rewards.Positivity(""));
        Assert.Equal(0, rewards.Positivity("."));
        // Below the floor, each word of the same valence density counts in proportion.
        Assert.Equal(2 * rewards.Positivity(" great."), rewards.Positivity(" great, great."), 12);
    }

    [Fact]
    public void Score_SeesTheReviewUpToItsEnd_NotTheNextDocument()
    {
        using var rewards = new TextRewards();
        const string prompt = "The food was";
        const string reference = " cold and the waiter was rude.";
        string ended = " cold and rude.<|endoftext|>It is a wonderful, great, amazing day!";
        double[][] terms = rewards.Score([prompt, prompt], [ended, " cold and rude."], [reference, reference]);
        // Both terms of the ended review are those of its text before <|endoftext|>: rude (−2) over 3 words, counted as 8.
        Assert.Equal(-2.0 / TextRewards.PositivityFloor, terms[0][0], 9);
        Assert.Equal(terms[1][0], terms[0][0], 9);
        Assert.Equal(terms[1][1], terms[0][1], 6);
        Assert.Equal(" cold and rude.", TextRewards.Review(ended));
        Assert.Equal("", TextRewards.Review("<|endoftext|> more"));
        Assert.Equal(" no end", TextRewards.Review(" no end"));
    }

    [Theory]
    [InlineData("What a waste of", " money.", "What a waste of money.")]
    [InlineData("Good case, Ex", "cellent value", "Good case, Excellent value")]
    public void Join_KeepsTheContinuationsSpacing(string prompt, string continuation, string expected) =>
        Assert.Equal(expected, TextRewards.Join(prompt, continuation));

    [Fact]
    public void Apply_WeightsTheTerms_UnknownTermRefused()
    {
        double[][] terms = [[0.5, 0.2], [-1, 0.9]];
        var morl = RewardFunction.Scalarise(TextRewards.Named, [0.25, 0.75]);
        Assert.Equal(new[] { 0.25 * 0.5 + 0.75 * 0.2, 0.25 * -1 + 0.75 * 0.9 }.Select(v => Math.Round(v, 9)), TextRewards.Apply(morl, terms).Select(v => Math.Round(v, 9)));
        var bad = new RewardFunction("x", new Dictionary<string, double> { ["fluency"] = 1 });
        Assert.Contains("unknown reward term 'fluency'", Assert.Throws<SoupInputException>(() => TextRewards.Apply(bad, terms)).Message);
    }

    [Fact]
    public void TermsAndNamedRewards_OneRewardPerTerm()
    {
        Assert.Equal(["positivity", "faithfulness"], TextRewards.Terms);
        Assert.Equal(["positive", "faithful"], TextRewards.Named.Select(r => r.Name));
        Assert.Equal(new Dictionary<string, double> { ["positivity"] = 1 }, TextRewards.Named[0].Weights);
        Assert.Equal(new Dictionary<string, double> { ["faithfulness"] = 1 }, TextRewards.Named[1].Weights);
    }

    [Fact]
    public void Apply_EachRewardItsOwnWeightedSum()
    {
        double[][] terms = [[0.5, 0.25], [-1, 0.75]];
        Assert.Equal([0.5, -1], TextRewards.Apply(TextRewards.Named[0], terms));
        Assert.Equal([0.25, 0.75], TextRewards.Apply(TextRewards.Named[1], terms));
        // 2 · positivity − 0.5 · faithfulness (weights exact in float).
        var mixed = new RewardFunction("mixed", new Dictionary<string, double> { ["faithfulness"] = -0.5, ["positivity"] = 2 });
        Assert.Equal([2 * 0.5 - 0.5 * 0.25, 2 * -1 - 0.5 * 0.75], TextRewards.Apply(mixed, terms));
        Assert.Empty(TextRewards.Apply(mixed, []));
    }

    [Fact]
    public void Score_PositivityOfTheContinuationOnly_NotThePrompt()
    {
        using var rewards = new TextRewards();
        // The prompt's "hate" (−3) and "awful" (−3) are not the model's words; the continuation is good (3) over
        // 8 words; the prompt's words are not counted either (with them: −3 − 3 + 3 over 14 words).
        double[][] terms = rewards.Score(["I hate this awful phone, but"], [" it is good and it works well enough"], [" it broke."]);
        Assert.Equal(3.0 / 8, terms[0][0], 12);
        Assert.InRange(terms[0][1], -1, 1);
    }

    [Fact]
    public void Score_CountsDisagree_Refused()
    {
        using var rewards = new TextRewards();
        Assert.Throws<ArgumentException>(() => rewards.Score(["a", "b"], [" x"], [" y"]));
        Assert.Throws<ArgumentException>(() => rewards.Score(["a"], [" x"], [" y", " z"]));
    }
}
