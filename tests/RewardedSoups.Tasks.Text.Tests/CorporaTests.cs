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
    public void Austen_SixNovelsAsParagraphs_HeadingsAndItalicMarksRemoved()
    {
        var paragraphs = Corpora.AustenParagraphs().ToList();
        // Pride and Prejudice, chapter 1 (public domain): its first paragraph, whole.
        Assert.Contains("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.", paragraphs);
        Assert.StartsWith("The family of Dashwood had long been settled in Sussex.", paragraphs[0]); // Sense and Sensibility comes first
        Assert.DoesNotContain(paragraphs, p => !p.Any(char.IsLower));        // "CHAPTER I", titles
        Assert.DoesNotContain(paragraphs, p => p.Contains('_') || p != p.Trim() || p.Contains("  "));
        // About 730,000 words in some 10,000 paragraphs.
        Assert.InRange(paragraphs.Count, 8_000, 14_000);
        Assert.InRange(paragraphs.Sum(p => (long)p.Split(' ').Length), 650_000, 800_000);
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

    [Fact]
    public void Brown_TagsRemovedPunctuationAttached()
    {
        // ca01, as written in the corpus (word/tag tokens):
        //   On/in other/ap matters/nns ,/, the/at jury/nn recommended/vbd that/cs :/: (/( 1/cd )/)
        //   ``/`` This/dt was/bedz the/at coolest/jjt ,/, calmest/jjt election/nn I/ppss ever/rb saw/vbd ''/'' ,/, Colquitt/np-tl Policeman/nn-tl Tom/np Williams/np said/vbd ./.
        var ca01 = Corpora.BrownSentences().Take(200).ToList();
        Assert.Contains("On other matters, the jury recommended that: (1)", ca01);
        Assert.Contains("\"This was the coolest, calmest election I ever saw\", Colquitt Policeman Tom Williams said.", ca01);
        Assert.Contains("(2)", ca01);
    }

    [Fact]
    public void LabelledReviews_TrimmedInFileOrder_EmptyEntriesSkipped()
    {
        var reviews = Corpora.LabelledReviews().ToList();
        // The first and last sentences of test/fixtures/amazon.json and imdb.json (whose texts end in two spaces); each
        // file ends with an entry of empty text and class null, which is no sentence.
        Assert.Equal(new LabelledSentence("amazon", "So there is no way for me to plug it in here in the US unless I go by a converter.", 0), reviews[0]);
        Assert.Equal(new LabelledSentence("amazon", "You can not answer calls with the unit, never worked once!", 0), reviews[999]);
        Assert.Equal(new LabelledSentence("imdb", "A very, very, very slow-moving, aimless movie about a distressed, drifting young man.", 0), reviews[1000]);
        Assert.Equal(new LabelledSentence("imdb", "All in all its an insult to one's intelligence and a huge waste of money.", 0), reviews[1999]);
        Assert.Equal(new LabelledSentence("yelp", "Wow... Loved this place.", 1), reviews[2000]);
    }
}
