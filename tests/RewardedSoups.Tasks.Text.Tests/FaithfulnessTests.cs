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
