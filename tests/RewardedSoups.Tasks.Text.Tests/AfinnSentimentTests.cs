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
}
