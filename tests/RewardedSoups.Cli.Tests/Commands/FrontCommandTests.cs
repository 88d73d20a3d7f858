using System.Text.Json;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

public sealed class FrontCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Csv(string text)
    {
        string path = _dir.File("points.csv");
        File.WriteAllText(path, text);
        return path;
    }

    // Staircase (1,3), (2,2), (3,1) over (0,0): area 3 + 2 + 1 = 6. (1,1) and (0.5,2) are dominated;
    // (4,-1) lies below the reference and adds nothing.
    private const string Points = "label,risky,cautious\na,1,3\nb,2,2\nc,3,1\nd,1,1\ne,0.5,2\nf,4,-1\n";

    [Fact]
    public void Front_Json_FrontHypervolumeAndExpectedUtility()
    {
        var r = CliRunner.Run("front", Csv(Points), "--ref", "0,0", "--json", "--eu-divisions", "2");
        Assert.Equal(0, r.Exit);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        JsonElement root = doc.RootElement;
        Assert.Equal(["a", "b", "c", "f"], root.GetProperty("front").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["d", "e"], root.GetProperty("dominated").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(6.0, root.GetProperty("hypervolume").GetDouble(), 12);
        // Preferences (1,0), (0.5,0.5), (0,1): best utilities 4, 2, 3 → mean 3.
        Assert.Equal(3.0, root.GetProperty("expected_utility").GetDouble(), 12);
        Assert.Equal(3, root.GetProperty("eu_preferences").GetInt32());
        Assert.Equal(["risky", "cautious"], root.GetProperty("objectives").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Front_Table_PrintsFrontAndNumbers()
    {
        var r = CliRunner.Run("front", Csv(Points), "--ref", "0,0");
        Assert.Equal(0, r.Exit);
        Assert.Contains("6 points, 2 objectives (risky, cautious)", r.Out);
        Assert.Contains("front: 4 non-dominated point(s)", r.Out);
        Assert.Contains("dominated: d, e", r.Out);
        Assert.Contains("hypervolume: 6 (reference (0, 0))", r.Out);
    }

    [Fact]
    public void Front_ThreeObjectivesJson_MatchesHandVolume()
    {
        string path = _dir.File("p.json");
        // Boxes [0,2]×[0,1]×[0,1] and [0,1]×[0,2]×[0,1] overlap in the unit cube: 2 + 2 − 1 = 3.
        File.WriteAllText(path, """{"objectives": ["x", "y", "z"], "points": [{"label": "p", "values": [2, 1, 1]}, {"label": "q", "values": [1, 2, 1]}]}""");
        var r = CliRunner.Run("front", path, "--ref", "0,0,0", "--json");
        Assert.Equal(0, r.Exit);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        Assert.Equal(3.0, doc.RootElement.GetProperty("hypervolume").GetDouble(), 12);
    }

    [Theory]
    [InlineData("0", "--ref has 1 value(s) but")]
    [InlineData("0,x", "--ref: 'x' (value 2) is not a finite number")]
    [InlineData("0,inf", "is not a finite number")]
    public void Front_BadReference_Exit2(string reference, string expected)
    {
        var r = CliRunner.Run("front", Csv(Points), "--ref", reference);
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.ErrLines.Single());
    }

    [Fact]
    public void Front_MalformedCsv_Exit2NamingLine()
    {
        var r = CliRunner.Run("front", Csv("label,r1,r2\na,1,2\nb,1\n"), "--ref", "0,0");
        Assert.Equal(2, r.Exit);
        string line = r.ErrLines.Single();
        Assert.Contains("points.csv", line);
        Assert.Contains("line 3", line);
    }

    [Fact]
    public void Front_MissingFile_Exit2()
    {
        var r = CliRunner.Run("front", _dir.File("none.csv"), "--ref", "0,0");
        Assert.Equal(2, r.Exit);
        Assert.Contains("none.csv", r.Err);
    }

    [Fact]
    public void Front_WithoutReference_Exit2()
    {
        var r = CliRunner.Run("front", Csv(Points));
        Assert.Equal(2, r.Exit);
        Assert.Contains("Option '--ref' is required", r.Err);
    }
}
