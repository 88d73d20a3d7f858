using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

public sealed class AfinnSentimentTests
{
    private static readonly AfinnSentiment Sentiment = AfinnSentiment.Load();

    [Fact]
    public void Analyze_ReadmeExamples_MatchTheOriginal()
    {
        // The examples the package's README publishes.
        (int score, double comparative) = Sentiment.Analyze("Cats are stupid.");
        Assert.Equal(-2, score);
        Assert.Equal(-2.0 / 3, comparative, 12);
        (score, comparative) = Sentiment.Analyze("I love cats, but I am allergic to them.");
        Assert.Equal(1, score);
        Assert.Equal(1.0 / 9, comparative, 12);
    }

    [Fact]
    public void Analyze_Negator_FlipsTheNextWord()
    {
        Assert.Equal(3, Sentiment.Analyze("This is good").Score);
        Assert.Equal(-3, Sentiment.Analyze("This is not good").Score);
        Assert.Equal(-3, Sentiment.Analyze("This isn't good!").Score);
    }

    [Fact]
    public void Tokenize_AsTheOriginal()
    {
        Assert.Equal(["i", "love", "cats", "but", "i", "am", "allergic", "to", "them"], AfinnSentiment.Tokenize("I love cats, but I am allergic to them."));
        Assert.Equal(["it's", "great"], AfinnSentiment.Tokenize("  It's   GREAT!!! "));
        Assert.True(Sentiment.LexiconSize > 3000);
    }

    [Theory]
    // Scored by hand from the lexicon in use (languages/en/labels.json): boring −3, awful −3, superb 5, like 2,
    // fun 4, bad −3, good 3, great 3, best 3; no other word of these sentences is in it.
    [InlineData("The plot was boring, the acting awful; but the ending was superb!", -3 - 3 + 5, 12)]
    [InlineData("I don't like it, and it isn't fun.", -2 - 4, 8)]   // "don't" and "isn't" negate the next word
    [InlineData("not very good", 3, 3)]                              // only the next word
    [InlineData("Not bad at all", 3, 4)]
    [InlineData("GREAT!!!fun (best)", 3 + 4 + 3, 3)]                  // punctuation splits words, case is folded
    [InlineData("good\nbad", 3 - 3, 2)]
    [InlineData("It was well-made.", 0, 3)]                          // a hyphen does not split a word
    public void Analyze_HandScoredSentences_ScoreOverTokenCount(string text, int score, int tokens)
    {
        (int s, double comparative) = Sentiment.Analyze(text);
        Assert.Equal(score, s);
        Assert.Equal(tokens, AfinnSentiment.Tokenize(text).Length);
        Assert.Equal((double)score / tokens, comparative, 12);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("?!...")]
    public void Analyze_NoWords_ZeroNotNaN(string text) => Assert.Equal((0, 0.0), Sentiment.Analyze(text));

    /// <summary>npm sentiment 5.0.2 merges build/emoji.json into the lexicon: "love" 3 + 😍 3 (checked against the package with node).</summary>
    [Fact]
    public void Analyze_Emoji_ScoredAsTheOriginal() => Assert.Equal(3 + 3, Sentiment.Analyze("I love it 😍").Score);
}
