using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>Tests that change SOUP_DATA run alone: the other tests read the installed data through it.</summary>
[CollectionDefinition(nameof(TextDataTests), DisableParallelization = true)]
public sealed class TextDataCollection;

/// <summary>Where the text task's data is found: the installed npm packages, or the folder SOUP_DATA names; one-line errors otherwise.</summary>
[Collection(nameof(TextDataTests))]
public sealed class TextDataTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string? _saved = Environment.GetEnvironmentVariable("SOUP_DATA");

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("SOUP_DATA", _saved);
        _dir.Dispose();
    }

    [Fact]
    public void File_MissingFromAnInstalledPackage_ErrorNamesThePackage()
    {
        var e = Assert.Throws<SoupInputException>(() => TextData.File("sentiment", "languages/xx/labels.json"));
        Assert.Contains("languages/xx/labels.json: missing; the npm package 'sentiment' is not installed", e.Message);
    }

    [Fact]
    public void Modules_SoupDataNamesNoFolder_ErrorNamesIt()
    {
        string missing = _dir.File("nowhere");
        Environment.SetEnvironmentVariable("SOUP_DATA", missing);
        Assert.Contains($"SOUP_DATA={missing}: no such folder", Assert.Throws<SoupInputException>(TextData.Modules).Message);
    }

    [Fact]
    public void Load_FromSoupData_ReadsThatLexicon()
    {
        string en = Path.Combine(_dir.Path, "sentiment", "languages", "en");
        Directory.CreateDirectory(en);
        File.WriteAllText(Path.Combine(en, "labels.json"), """{"zap": 2, "meh": -1}""");
        File.WriteAllText(Path.Combine(en, "negators.json"), """{"never": 1}""");
        Directory.CreateDirectory(Path.Combine(_dir.Path, "sentiment", "build"));
        File.WriteAllText(Path.Combine(_dir.Path, "sentiment", "build", "emoji.json"), """{"☺": 3}""");
        Environment.SetEnvironmentVariable("SOUP_DATA", _dir.Path);
        Assert.Equal(_dir.Path, TextData.Modules());
        AfinnSentiment lexicon = AfinnSentiment.Load();
        Assert.Equal(3, lexicon.LexiconSize);
        // zap 2, then meh −1 negated by never: 2 + 1 over 4 tokens; "good" is not in this lexicon.
        Assert.Equal((3, 3.0 / 4), lexicon.Analyze("zap, never meh good"));
        Assert.Equal((5, 5.0 / 2), lexicon.Analyze("zap ☺"));
    }
}
