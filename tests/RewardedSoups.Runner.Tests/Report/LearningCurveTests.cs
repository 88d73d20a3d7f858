using RewardedSoups.Runner.Report;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Report;

public class LearningCurveTests
{
    [Theory]
    [InlineData("s1-init", "s1", "init")]
    [InlineData("s12-expert-2", "s12", "expert-2")]
    [InlineData("s3-morl-1", "s3", "morl-1")]
    [InlineData("init", "", "init")]
    [InlineData("sx-expert-1", "", "sx-expert-1")]
    [InlineData("s-expert", "", "s-expert")]
    public void SeedAndRole_SplitsAJobLabel_ColourByRolePatternBySeed(string label, string seed, string role) =>
        Assert.Equal((seed, role), ReportFigures.SeedAndRole(label));

    [Fact]
    public void Read_NaNReturns_SkipsThoseUpdates()
    {
        using var dir = new TempDir();
        string path = ResultsFixtures.WriteTrainLog(dir.File("train_log.csv"), 100, updates: 9);

        LearningCurve curve = LearningCurve.Read("expert", path);

        // Updates 3, 6 and 9 ended no episode.
        Assert.Equal([4096, 8192, 16384, 20480, 28672, 32768], curve.Steps);
        Assert.All(curve.Returns, r => Assert.True(double.IsFinite(r)));
        Assert.Null(curve.Problem);
    }

    [Fact]
    public void Read_ColumnsInAnotherOrderAndCutLastLine_FindsColumnsByName()
    {
        using var dir = new TempDir();
        string path = dir.File("train_log.csv");
        File.WriteAllText(path, "charts/episodic_return,update,global_step\n1.5,1,100\n2.5,2,200\n3.5,3\n");

        LearningCurve curve = LearningCurve.Read("x", path);

        Assert.Equal([100, 200], curve.Steps);
        Assert.Equal([1.5, 2.5], curve.Returns);
    }

    [Fact]
    public void Read_MissingFile_HasNoPointsAndSaysWhy()
    {
        using var dir = new TempDir();

        LearningCurve curve = LearningCurve.Read("morl", dir.File("absent.csv"));

        Assert.False(curve.HasPoints);
        Assert.StartsWith("no log at ", curve.Problem);
    }

    [Fact]
    public void Read_HeaderWithoutReturnColumn_SaysWhichColumnIsNeeded()
    {
        using var dir = new TempDir();
        string path = dir.File("train_log.csv");
        File.WriteAllText(path, "update,global_step\n1,100\n");

        LearningCurve curve = LearningCurve.Read("x", path);

        Assert.False(curve.HasPoints);
        Assert.Contains("charts/episodic_return", curve.Problem);
    }
}
