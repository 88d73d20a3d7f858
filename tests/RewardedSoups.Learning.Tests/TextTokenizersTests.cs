using RewardedSoups.Learning.Text;

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
