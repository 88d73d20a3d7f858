using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public sealed class PointSetFileTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rs-pointset-" + Guid.NewGuid().ToString("N"));

    public PointSetFileTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Load_Csv_ParsesQuotedLabelsBlankLinesAndSpaces()
    {
        string path = Write("front.csv",
            "\uFEFFlabel, helpful ,harmless\r\n" +
            "\r\n" +
            "soup λ=0.5 ,  1.5, -2e-1\r\n" +
            "\"expert, helpful\",3,0\r\n" +
            "  \"say \"\"hi\"\"\" , 0 , 4 \n" +
            "   \n" +
            "soup λ=0.5,1,1\n");

        PointSet set = PointSetFile.Load(path);

        Assert.Equal(["helpful", "harmless"], set.ObjectiveNames);
        Assert.Equal(["soup λ=0.5", "expert, helpful", "say \"hi\"", "soup λ=0.5"], set.Labels);
        Assert.Equal([[1.5, -0.2], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0]], set.Values);
        Assert.Equal(4, set.Count);
        Assert.Equal(2, set.Dimensions);
    }

    [Fact]
    public void Load_JsonArray_NamesObjectivesR1ToRd()
    {
        string path = Write("front.json",
            """
              [ {"label": "a", "values": [1, 2.5, -3]},
                {"label": "b", "values": [0, 1e-3, 7]} ]
            """);

        PointSet set = PointSetFile.Load(path);

        Assert.Equal(["r1", "r2", "r3"], set.ObjectiveNames);
        Assert.Equal(["a", "b"], set.Labels);
        Assert.Equal([[1.0, 2.5, -3.0], [0.0, 0.001, 7.0]], set.Values);
    }

    [Fact]
    public void Load_JsonObject_UsesObjectiveNames()
    {
        string path = Write("front.txt",
            """
            {"objectives": ["reward", "length"],
             "points": [{"label": "x", "values": [1, 2]}, {"label": "x", "values": [3, 4]}]}
            """);

        PointSet set = PointSetFile.Load(path);

        Assert.Equal(["reward", "length"], set.ObjectiveNames);
        Assert.Equal(["x", "x"], set.Labels);
        Assert.Equal([[1.0, 2.0], [3.0, 4.0]], set.Values);
    }

    [Theory]
    [InlineData("label,r1,r2\na,1,2\nb,1\n", "line 3: expected 3 columns")]
    [InlineData("label,r1,r2\na,1,2\nb,1,2,3\n", "line 3: expected 3 columns")]
    [InlineData("label,r1,r2\n\na,1,x2\n", "line 3, column 3 (r2): 'x2' is not a number")]
    [InlineData("label,r1,r2\na,NaN,2\n", "line 2, column 2 (r1): 'NaN' is not a finite number")]
    [InlineData("label,r1,r2\na,1,1e999\n", "line 2, column 3 (r2): '1e999' is not a finite number")]
    [InlineData("label,r1\n  ,1\n", "line 2, column 1: empty label")]
    [InlineData("label,r1\n\"\",1\n", "line 2, column 1: empty label")]
    [InlineData("label,r1\n\"open,1\n", "line 2, column 1: quoted field has no closing quote")]
    [InlineData("label,r1\n\"a\"b,1\n", "line 2, column 1: unexpected 'b' after the closing quote")]
    [InlineData("name,r1\na,1\n", "line 1, column 1: the header must start with 'label'")]
    [InlineData("\n\nlabel\n", "line 3: the header names no objective columns")]
    [InlineData("label,r1,r1\na,1,2\n", "line 1, column 3: objective 'r1' is named twice")]
    [InlineData("label,r1,\na,1,2\n", "line 1, column 3: empty objective name")]
    [InlineData("label,r1,r2\n\n", "no data rows after the header on line 1")]
    [InlineData("  \n\t\n", "the file is empty")]
    [InlineData("", "the file is empty")]
    public void Load_BadCsv_NamesFileAndLocation(string content, string expected)
    {
        AssertRejected(Write("bad.csv", content), expected);
    }

    [Theory]
    [InlineData("[{\"label\": \"a\", \"values\": [1, 2]}, {\"label\": \"b\", \"values\": [1]}]", "point 2 ('b'): 1 values, expected 2 (r1, r2)")]
    [InlineData("{\"objectives\": [\"u\", \"v\"], \"points\": [{\"label\": \"a\", \"values\": [1, 2, 3]}]}", "point 1 ('a'): 3 values, expected 2 (u, v)")]
    [InlineData("[{\"label\": \"\", \"values\": [1]}]", "point 1: empty label")]
    [InlineData("[{\"values\": [1]}]", "point 1: \"label\" must be a string")]
    [InlineData("[{\"label\": \"a\"}]", "point 1 ('a'): \"values\" must be an array of numbers")]
    [InlineData("[{\"label\": \"a\", \"values\": []}]", "point 1 ('a'): \"values\" is empty")]
    [InlineData("[{\"label\": \"a\", \"values\": [1, \"2\"]}]", "point 1 ('a'), value 2 (r2): expected a number, found the string \"2\"")]
    [InlineData("[{\"label\": \"a\", \"values\": [1, 1e999]}]", "point 1 ('a'), value 2 (r2): 1e999 is not a finite number")]
    [InlineData("[[1, 2]]", "point 1: expected {\"label\": …, \"values\": […]}, found an array")]
    [InlineData("[]", "no points")]
    [InlineData("{\"objectives\": [\"u\"], \"points\": []}", "no points")]
    [InlineData("{\"objectives\": [\"u\", \"u\"], \"points\": []}", "objective 2: objective 'u' is named twice")]
    [InlineData("{\"objectives\": \"u\", \"points\": []}", "\"objectives\" must be a non-empty array of names")]
    [InlineData("{\"points\": {}}", "\"points\" is an object")]
    [InlineData("{\"rows\": []}", "unknown JSON shape")]
    [InlineData("[{\"label\": \"a\",\n \"values\": [1, 2,, 3]}]", "line 2: invalid JSON")]
    public void Load_BadJson_NamesFileAndPoint(string content, string expected)
    {
        AssertRejected(Write("bad.json", content), expected);
    }

    [Fact]
    public void Load_MissingFile_NamesIt()
    {
        string path = Path.Combine(_directory, "absent.csv");
        AssertRejected(path, "file not found");
        AssertRejected(Path.Combine(_directory, "no-such-dir", "absent.json"), "file not found");
    }

    [Fact]
    public void Parse_JsonWithByteOrderMark_Parses()
    {
        PointSet set = PointSetFile.Parse("\uFEFF [{\"label\": \"a\", \"values\": [1]}]", "upload");

        Assert.Equal(["r1"], set.ObjectiveNames);
        Assert.Equal([[1.0]], set.Values);
    }

    [Fact]
    public void Parse_Text_NamesSourceInErrors()
    {
        var ex = Assert.Throws<SoupInputException>(() => PointSetFile.Parse("label,r1\na,oops\n", "upload #3"));
        Assert.Equal("upload #3: line 2, column 2 (r1): 'oops' is not a number", ex.Message);
    }

    private string Write(string name, string content)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static void AssertRejected(string path, string expected)
    {
        var ex = Assert.Throws<SoupInputException>(() => PointSetFile.Load(path));
        Assert.StartsWith(path + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }
}
