using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

public sealed class FaithfulnessTests
{
    [Fact]
    public void Score_SameMeaningAboveUnrelated_IdenticalNearOne()
    {
        using var faithfulness = new Faithfulness();
        double[] s = faithfulness.Score(
            ["The meal was delicious.", "The car broke down on the highway.", "The food was great."],
            ["The food was great.", "The food was great.", "The food was great."]);
        Assert.True(s[0] > s[1] + 0.3, $"paraphrase {s[0]:F3} vs unrelated {s[1]:F3}");
        Assert.Equal(1.0, s[2], 4);
        Assert.Equal(384, faithfulness.Embed(["x"])[0].Length);
    }

    [Fact]
    public void Score_Repeated_SameNumbers()
    {
        using var faithfulness = new Faithfulness();
        string[] texts = ["A quiet film with a great cast.", "Terrible plot, worse acting."];
        string[] refs = ["The cast is excellent in this calm movie.", "The acting was bad."];
        Assert.Equal(faithfulness.Score(texts, refs), faithfulness.Score(texts, refs));
    }

    [Fact]
    public void Score_CosineOfTheTwoEmbeddings_SymmetricWithinOne()
    {
        using var faithfulness = new Faithfulness();
        string a = "The battery lasts all day.", b = "The screen cracked when I dropped it.";
        double ab = faithfulness.Score([a], [b])[0];
        Assert.Equal(ab, faithfulness.Score([b], [a])[0], 6);
        Assert.InRange(ab, -1, 1);
        // The cosine of the embeddings, computed here from Embed.
        float[][] e = faithfulness.Embed([a, b]);
        double dot = e[0].Zip(e[1], (x, y) => (double)x * y).Sum();
        double norms = Math.Sqrt(e[0].Sum(x => (double)x * x) * e[1].Sum(x => (double)x * x));
        Assert.Equal(dot / norms, ab, 5);
    }

    [Fact]
    public void Score_NothingOrMismatched_EmptyOrRefused()
    {
        using var faithfulness = new Faithfulness();
        Assert.Empty(faithfulness.Score([], []));
        Assert.Throws<ArgumentException>(() => faithfulness.Score(["one"], ["one", "two"]));
    }
}

/// <summary>
/// The faithfulness reward on hand-written continuations: what a continuation adds to the prompt, measured against
/// what the real one adds, so that ending the review at once earns nothing and a faithful continuation beats a
/// fluent but wrong one.
/// </summary>
public sealed class FaithfulnessAddedTests
{
    private const string Prompt = "I bought this phone and";
    private const string Reference = " the battery died after two days and support never answered.";

    [Fact]
    public void Added_GoodAboveBad_EmptyAndEndingEarnNothing()
    {
        using var faithfulness = new Faithfulness();
        string[] continuations =
        [
            Reference,                                                          // the real continuation
            " the battery was dead within a week and nobody at support replied.", // good: same facts, other words
            " it is the best phone I have ever owned, the camera is amazing.",     // bad: fluent, another review
            " the the the the the the the the",                                    // bad: no content
            "",                                                                 // empty: adds nothing
            ".",                                                                // ends the review at once
            " the battery died.",                                               // good but short: 3 of 4 words
        ];
        double[] s = faithfulness.Added(continuations.Select(_ => Prompt).ToList(), continuations, continuations.Select(_ => Reference).ToList());
        Assert.Equal(1.0, s[0], 4);
        Assert.True(s[1] > s[2] + 0.2, $"good {s[1]:F3} vs another review {s[2]:F3}");
        Assert.True(s[1] > s[3] + 0.2, $"good {s[1]:F3} vs no content {s[3]:F3}");
        Assert.Equal(0, s[4]);
        Assert.Equal(0, s[5]);
        Assert.True(s[1] > s[6], $"good {s[1]:F3} vs short {s[6]:F3}");
        Assert.All(s, v => Assert.InRange(v, -1, 1));
    }

    [Fact]
    public void Added_ShortContinuation_CountsInProportionToTheFloor()
    {
        using var faithfulness = new Faithfulness();
        // The same words, once as a complete short reference (no floor beyond its own length) and once against a long one.
        const string shortReference = " works.";
        double[] s = faithfulness.Added([Prompt, Prompt], [" works.", " works."], [shortReference, Reference]);
        Assert.Equal(1.0, s[0], 4);
        // Against the long reference: the cosine times 1/4 (one word of the 4-word floor).
        float[][] e = faithfulness.Embed([Prompt, Prompt + " works.", Prompt + Reference]);
        double[] dc = e[1].Zip(e[0], (a, b) => (double)a - b).ToArray(), dr = e[2].Zip(e[0], (a, b) => (double)a - b).ToArray();
        double cosine = dc.Zip(dr, (a, b) => a * b).Sum() / Math.Sqrt(dc.Sum(x => x * x) * dr.Sum(x => x * x));
        Assert.Equal(cosine / 4, s[1], 5);
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData(" !!", 0)]
    [InlineData(" don't stop", 3)]
    [InlineData(" 3.5 stars, ok", 4)]
    [InlineData("ooth headset.", 2)]
    public void Words_RunsOfLettersOrDigits(string text, int words) => Assert.Equal(words, Faithfulness.Words(text));

    [Fact]
    public void Added_CountsDisagree_Refused()
    {
        using var faithfulness = new Faithfulness();
        Assert.Empty(faithfulness.Added([], [], []));
        Assert.Throws<ArgumentException>(() => faithfulness.Added(["a"], [" x", " y"], [" r", " s"]));
    }
}
