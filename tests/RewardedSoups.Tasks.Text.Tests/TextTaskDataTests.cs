using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

/// <summary>The text task's streams and prompts, built from the installed corpora.</summary>
public sealed class TextTaskDataTests
{
    private static readonly Lazy<TextTaskData> Data = new(() => TextTaskData.Build(TextTokenizers.Gpt2Prefix(8192), 8192, 5, ["brown"]));

    [Fact]
    public void Streams_HoldTheCorpora_ValidationIsAboutOneTwentieth()
    {
        TextTaskData d = Data.Value;
        double share = (double)d.PretrainValid.Length / (d.PretrainTrain.Length + d.PretrainValid.Length);
        Assert.InRange(share, 0.04, 0.06);
        Assert.True(d.PretrainTrain.Length > 1_000_000, $"{d.PretrainTrain.Length} Brown tokens");
        // Reviews: one <|endoftext|> before each (3,000) plus one at the end of each split.
        Assert.Equal(3000 + 2, d.SftTrain.Count(t => t == 8192) + d.SftValid.Count(t => t == 8192));
        Assert.InRange((double)d.SftValid.Count(t => t == 8192) / 3000, 0.19, 0.21);
    }

    [Fact]
    public void Prompts_AreExactTokenPrefixes_HeldOutDisjointFromTraining()
    {
        TextTaskData d = Data.Value;
        var tokenizer = TextTokenizers.Gpt2Prefix(8192);
        Assert.True(d.EvalPrompts.Count > 300 && d.TrainPrompts.Count > 3 * d.EvalPrompts.Count, $"{d.TrainPrompts.Count} training and {d.EvalPrompts.Count} held-out prompts");
        foreach (ReviewPrompt p in d.EvalPrompts.Take(50).Concat(d.TrainPrompts.Take(50)))
        {
            Assert.Equal(6, p.Tokens.Length);
            Assert.Equal(p.Tokens, tokenizer.EncodeToIds(TextTokenizers.EndOfText + p.Prompt));
            Assert.True(tokenizer.EncodeToIds(p.Reference).Count >= TextTaskData.MinReferenceTokens - 1);
        }
        var train = d.TrainPrompts.Select(p => p.Prompt + "|" + p.Reference).ToHashSet();
        Assert.DoesNotContain(d.EvalPrompts, p => train.Contains(p.Prompt + "|" + p.Reference));
        // Both sentiments are prompted: the rewards conflict on the negative half.
        Assert.InRange(d.EvalPrompts.Average(p => p.Label), 0.35, 0.65);
    }

    [Fact]
    public void Build_NoPretraining_ReviewsOnlyOneInFiveHeldOut()
    {
        TextTaskData d = TextTaskData.Build(TextTokenizers.Gpt2Prefix(8192), 8192, 5, corpora: []);
        Assert.Empty(d.PretrainTrain);
        Assert.Empty(d.PretrainValid);
        // 3,000 reviews, those of index 4, 9, 14, … held out: 600, each after an <|endoftext|>, and one closing each stream.
        Assert.Equal(600 + 1, d.SftValid.Count(t => t == 8192));
        Assert.Equal(2400 + 1, d.SftTrain.Count(t => t == 8192));
    }

    [Fact]
    public void Prompts_PromptAndReferenceAreTheReview_OfTheirSplit()
    {
        TextTaskData d = TextTaskData.Build(TextTokenizers.Gpt2Prefix(8192), 8192, 3, corpora: []);
        var reviews = Corpora.LabelledReviews().ToList();
        var heldOut = reviews.Where((_, i) => i % 5 == 4).ToHashSet();
        var training = reviews.Where((_, i) => i % 5 != 4).ToHashSet();
        Assert.All(d.EvalPrompts, p => Assert.Contains(new LabelledSentence(p.Source, p.Prompt + p.Reference, p.Label), heldOut));
        Assert.All(d.TrainPrompts, p => Assert.Contains(new LabelledSentence(p.Source, p.Prompt + p.Reference, p.Label), training));
        Assert.All(d.EvalPrompts, p => Assert.Equal(1 + 3, p.Tokens.Length));
    }

    [Fact]
    public void Build_BrownAndAusten_AddsAustenAfterBrown_EachHoldingOutAboutOneTwentieth()
    {
        var tokenizer = TextTokenizers.Gpt2Prefix(8192);
        TextTaskData brown = Data.Value;
        TextTaskData both = TextTaskData.Build(tokenizer, 8192, 5, ["brown", "austen"]);
        // Brown's streams come first, unchanged: a base of Brown alone is the base it was.
        Assert.Equal(brown.PretrainTrain, both.PretrainTrain.Take(brown.PretrainTrain.Length));
        Assert.Equal(brown.PretrainValid, both.PretrainValid.Take(brown.PretrainValid.Length));
        long austenTrain = both.PretrainTrain.Length - brown.PretrainTrain.Length, austenValid = both.PretrainValid.Length - brown.PretrainValid.Length;
        Assert.True(austenTrain > 800_000, $"{austenTrain} Austen training tokens");
        Assert.InRange((double)austenValid / (austenTrain + austenValid), 0.03, 0.07);
        Assert.Contains("corpus 'shakespeare'", Assert.Throws<SoupInputException>(() => TextTaskData.Build(tokenizer, 8192, 5, ["shakespeare"])).Message);
    }

    [Fact]
    public void Build_NoPromptTokens_Refused() =>
        Assert.Contains("prompt tokens must be ≥ 1", Assert.Throws<SoupInputException>(() => TextTaskData.Build(TextTokenizers.Gpt2Prefix(8192), 8192, 0, corpora: [])).Message);
}
