using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

public sealed class TextTokenizersTests
{
    [Fact]
    public void Gpt2_KnownIds_AndRoundTrip()
    {
        var tokenizer = TextTokenizers.Gpt2();
        // GPT-2's well-known ids: "Hello" = 15496, " world" = 995.
        Assert.Equal([15496, 995], tokenizer.EncodeToIds("Hello world"));
        const string text = "The movie was surprisingly good, though the ending felt rushed.";
        Assert.Equal(text, tokenizer.Decode(tokenizer.EncodeToIds(text)));
    }
}

public sealed class Gpt2PrefixTokenizerTests
{
    private const string Text = "The movie was surprisingly good, though the ending felt rushed and unremarkable.";

    [Theory]
    [InlineData(256)]
    [InlineData(2048)]
    [InlineData(8192)]
    public void Prefix_IdsBelowSize_EndOfTextAtSize_RoundTrips(int size)
    {
        var prefix = TextTokenizers.Gpt2Prefix(size);
        IReadOnlyList<int> ids = prefix.EncodeToIds(Text);
        Assert.All(ids, id => Assert.InRange(id, 0, size - 1));
        Assert.Equal(Text, prefix.Decode(ids));
        Assert.Equal([size], prefix.EncodeToIds(TextTokenizers.EndOfText));
    }

    [Fact]
    public void Prefix_IsGpt2WithFewerMerges_SameIdsWhereGpt2UsesOnlyPrefixTokens_MoreTokensOtherwise()
    {
        var full = TextTokenizers.Gpt2();
        var prefix = TextTokenizers.Gpt2Prefix(8192);
        // "Hello world" uses GPT-2 tokens 15496 and 995: " world" is in the prefix, "Hello" is not.
        Assert.Contains(995, prefix.EncodeToIds("Hello world"));
        Assert.DoesNotContain(15496, prefix.EncodeToIds("Hello world"));
        // Common words are the same tokens with the same ids.
        Assert.Equal(full.EncodeToIds(" the movie was good"), prefix.EncodeToIds(" the movie was good"));
        // A rarer text needs more tokens with fewer merges, never fewer.
        Assert.True(prefix.EncodeToIds(Text).Count > full.EncodeToIds(Text).Count);
        // With all 50,256 ranks the prefix is GPT-2 itself.
        Assert.Equal(full.EncodeToIds(Text), TextTokenizers.Gpt2Prefix(50256).EncodeToIds(Text));
    }

    [Theory]
    [InlineData(255)]
    [InlineData(50257)]
    public void Prefix_SizeOutOfRange_Refused(int size) =>
        Assert.Contains("tokenizer size must be in [256, 50256]", Assert.Throws<SoupInputException>(() => TextTokenizers.Gpt2Prefix(size)).Message);
}
