using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

public sealed class CorporaTests
{
    [Fact]
    public void Brown_FirstSentenceAndSize()
    {
        Assert.Equal(500, Corpora.BrownFileCount());
        string first = Corpora.BrownSentences().First();
        Assert.Equal("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place.", first);
        // About 57,000 sentences and a million words: several MB of English.
        var sentences = Corpora.BrownSentences().ToList();
        Assert.InRange(sentences.Count, 50_000, 60_000);
        Assert.InRange(sentences.Sum(s => (long)s.Length), 5_000_000, 7_000_000);
    }

    [Fact]
    public void LabelledReviews_ThreeSourcesBothLabels()
    {
        var reviews = Corpora.LabelledReviews().ToList();
        Assert.Equal(["amazon", "imdb", "yelp"], reviews.Select(r => r.Source).Distinct());
        Assert.Equal(3000, reviews.Count);
        Assert.All(reviews, r => Assert.True(r.Label is 0 or 1 && r.Text.Length > 0));
        Assert.Equal(1500, reviews.Count(r => r.Label == 1)); // balanced, 500 per source, as published
    }
}
