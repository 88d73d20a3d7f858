using System.Text.Json;
using System.Text.RegularExpressions;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The positivity reward: a port of the npm package <c>sentiment</c> 5.0.2 (AFINN-165 word valences
/// from −5 to +5, plus its emoji list), read from the installed package at run time. As the original:
/// lower-case the text, replace <c>. , / # ! ? $ % ^ &amp; * ; : { } = _ ` " ~ ( )</c> and newlines by
/// spaces, collapse spaces, split on spaces; each token in the lexicon adds its valence, negated when
/// the previous token is a negator (<c>not</c>, <c>don't</c>, …); the comparative score divides the sum
/// by the token count.
/// </summary>
public sealed partial class AfinnSentiment
{
    private readonly Dictionary<string, int> _labels;
    private readonly HashSet<string> _negators;

    private AfinnSentiment(Dictionary<string, int> labels, HashSet<string> negators)
    {
        _labels = labels;
        _negators = negators;
    }

    /// <summary>Loads the lexicon (AFINN words, then the emoji list merged over them, as the package's language processor does) and negators from the installed npm package.</summary>
    public static AfinnSentiment Load()
    {
        string labels = TextData.File("sentiment", "languages/en/labels.json");
        string emoji = TextData.File("sentiment", "build/emoji.json");
        string negators = TextData.File("sentiment", "languages/en/negators.json");
        Dictionary<string, int> lexicon = JsonSerializer.Deserialize<Dictionary<string, int>>(System.IO.File.ReadAllText(labels)) ?? throw new SoupInputException($"{labels}: empty");
        foreach ((string symbol, int valence) in JsonSerializer.Deserialize<Dictionary<string, int>>(System.IO.File.ReadAllText(emoji)) ?? throw new SoupInputException($"{emoji}: empty"))
            lexicon[symbol] = valence;
        return new AfinnSentiment(lexicon, (JsonSerializer.Deserialize<Dictionary<string, int>>(System.IO.File.ReadAllText(negators)) ?? []).Keys.ToHashSet());
    }

    public int LexiconSize => _labels.Count;

    public static string[] Tokenize(string text)
    {
        string s = Punctuation().Replace(text.ToLowerInvariant().Replace('\n', ' '), " ");
        s = Spaces().Replace(s, " ").Trim();
        return s.Split(' ');
    }

    /// <summary>(score, comparative) as <c>sentiment.analyze</c> returns them.</summary>
    public (int Score, double Comparative) Analyze(string text)
    {
        string[] tokens = Tokenize(text);
        int score = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            if (!_labels.TryGetValue(tokens[i], out int value)) continue;
            if (i > 0 && _negators.Contains(tokens[i - 1])) value = -value;
            score += value;
        }
        return (score, tokens.Length > 0 ? (double)score / tokens.Length : 0);
    }

    [GeneratedRegex(@"[.,/#!?$%\^&*;:{}=_`""~()]")]
    private static partial Regex Punctuation();

    [GeneratedRegex(@"\s\s+")]
    private static partial Regex Spaces();
}
