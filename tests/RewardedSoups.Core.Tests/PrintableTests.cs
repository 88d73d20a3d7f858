using CsCheck;

namespace RewardedSoups.Tests;

public sealed class PrintableTests
{
    [Fact]
    public void Escape_AnyText_NoControlCharacterAndBoundedLength()
    {
        Gen.String[Gen.Char, 0, 400].Sample(text =>
        {
            string shown = Printable.Escape(text, 50);
            Assert.DoesNotContain(shown, c => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u202e');
            // Cut after at most 50 characters, plus one escape (6) and the note of the length.
            Assert.True(shown.Length <= 50 + 6 + $"… ({text.Length} characters)".Length, shown);
        }, iter: 5_000);
    }

    [Fact]
    public void Escape_PlainTextWithinTheLimit_Unchanged()
    {
        Gen.String[Gen.Char['a', 'z'], 0, 50].Sample(text => Assert.Same(text, Printable.Escape(text, 50)));
        Assert.Equal("model.layers.0.mlp.weight λ 😀", Printable.Escape("model.layers.0.mlp.weight λ 😀"));
    }

    [Theory]
    [InlineData("\u001b[31mred\u001b[0m", "'\\u001b[31mred\\u001b[0m'")]
    [InlineData("a\nb\tc\rd", "'a\\nb\\tc\\rd'")]
    [InlineData("\u202eevil", "'\\u202eevil'")]
    public void Quote_ControlCharacters_Escaped(string value, string expected) =>
        Assert.Equal(expected, Printable.Quote(value));

    [Fact]
    public void Quote_LoneSurrogate_Escaped() => // (a test datum could not carry one: it is serialised as UTF-8)
        Assert.Equal("'lone \\ud800 half'", Printable.Quote("lone \ud800 half"));

    [Fact]
    public void Escape_LongText_CutWithItsLength()
    {
        Assert.Equal("12345… (200000 characters)", Printable.Escape(new string('1', 200_000).Replace("11111", "12345"), 5));
        Assert.Equal("abc… (9 bytes)", Printable.Escape("abc", 5, "9 bytes"));
    }
}
