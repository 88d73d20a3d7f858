using System.Text.RegularExpressions;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Demo_SaysWhatExistsAndVerifiesEverySoup()
    {
        var r = CliRunner.Run("demo", "--out", _dir.Path);
        Assert.Equal(0, r.Exit);
        Assert.Contains("not built yet", r.Out);
        var errors = Regex.Matches(r.Out, @"λ = (\d\.\d\d): .*= (\S+)$", RegexOptions.Multiline);
        Assert.Equal(["0.00", "0.25", "0.50", "0.75", "1.00"], errors.Select(m => m.Groups[1].Value));
        Assert.All(errors, m => Assert.Equal("0", m.Groups[2].Value));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "soup-0.50.safetensors")));
    }
}
