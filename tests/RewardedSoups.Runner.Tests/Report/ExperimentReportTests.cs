using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using RewardedSoups.Runner;
using RewardedSoups.Runner.Report;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Report;

/// <summary>The two-reward report, written once and shared by the tests that only read it (rendering takes a second).</summary>
public sealed class TwoRewardReport : IDisposable
{
    public TwoRewardReport()
    {
        Results = ResultsFixtures.TwoRewards(soupLabelPrefix: "<b>x</b>");
        (string, string)[] logs =
        [
            ("init", ResultsFixtures.WriteTrainLog(Path.Combine(Dir.Path, "jobs", "init", "train_log.csv"), 100)),
            ("expert forward", ResultsFixtures.WriteTrainLog(Path.Combine(Dir.Path, "jobs", "expert-0", "train_log.csv"), 1500)),
            ("expert energy", ResultsFixtures.WriteTrainLog(Path.Combine(Dir.Path, "jobs", "expert-1", "train_log.csv"), 300)),
            ("morl mu=0.5", Path.Combine(Dir.Path, "jobs", "morl-1", "train_log.csv")), // never written: a missing log
        ];
        Files = ExperimentReport.Write(Results, logs, Dir.Path);
        Html = File.ReadAllText(Files.Html);
    }

    public TempDir Dir { get; } = new();

    public ExperimentResults Results { get; }

    public ReportFiles Files { get; }

    public string Html { get; }

    public void Dispose() => Dir.Dispose();
}

public class ExperimentReportTests(TwoRewardReport report) : IClassFixture<TwoRewardReport>
{
    [Fact]
    public void Write_TwoRewards_WritesParetoLambdaLearningAndCostPngs()
    {
        string[] names = report.Files.Figures.Select(f => Path.GetFileName(f)).ToArray();
        Assert.Equal(["pareto.png", "lambda.png", "learning.png", "cost.png"], names);
        foreach (string figure in report.Files.Figures)
        {
            Assert.Equal(Path.Combine(report.Dir.Path, "figures"), Path.GetDirectoryName(figure));
            AssertValidPng(figure);
        }
    }

    [Fact]
    public void Write_TwoRewards_LeavesNoTemporaryFiles()
    {
        Assert.Equal(["figures", "jobs", "report.html"], report.Dir.Entries());
        Assert.Equal(["cost.png", "lambda.png", "learning.png", "pareto.png"],
            Directory.GetFileSystemEntries(Path.Combine(report.Dir.Path, "figures")).Select(f => Path.GetFileName(f)).Order().ToArray());
    }

    [Fact]
    public void Write_TwoRewards_HtmlNamesEveryPolicyEscaped()
    {
        foreach (PolicyResult policy in report.Results.Policies)
            Assert.Contains(System.Net.WebUtility.HtmlEncode(policy.Label), report.Html);
        // Labels come from user configs: markup in them is shown, never interpreted.
        Assert.Contains("&lt;b&gt;x&lt;/b&gt; 0.5", report.Html);
        Assert.DoesNotContain("<b>x</b>", report.Html);
    }

    [Fact]
    public void Write_TwoRewards_HtmlStatesHypervolumesCostAndVerdict()
    {
        Assert.Contains("123,457", report.Html); // RS hypervolume 123456.7, thousands grouped
        Assert.Contains("148,000", report.Html); // MORL hypervolume
        Assert.Contains("83.4%", report.Html); // 123456.7 / 148000
        Assert.Contains("3,000,000", report.Html);
        Assert.Contains("6,000,000", report.Html);
        Assert.Contains("RS reaches 83.4% of MORL&#39;s hypervolume at 50% of its cost in environment steps.", report.Html);
        Assert.Contains("MORL&#39;s front is ahead by hypervolume", report.Html);
        Assert.Contains("-20.25", report.Html); // LMC min gap of the first reward
        Assert.Contains("-11.13", report.Html); // LMC mean gap −11.125, four significant digits
    }

    [Fact]
    public void Write_TwoRewards_HtmlComparesEachExpertWithInit()
    {
        // Expert forward 1500 ± 75 vs init 100 ± 5 on forward: disjoint intervals.
        Assert.Contains("1500 [1425, 1575]", report.Html);
        Assert.Contains("100 [95, 105]", report.Html);
        Assert.Contains("intervals disjoint, expert better", report.Html);
    }

    [Fact]
    public void Write_TwoRewards_HtmlIsSelfContainedWithEmbeddedFigures()
    {
        Assert.DoesNotMatch(new Regex(@"(src|href)\s*=\s*[""']?\s*(https?:)?//", RegexOptions.IgnoreCase), report.Html);
        Assert.DoesNotContain("<script", report.Html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", report.Html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", report.Html, StringComparison.OrdinalIgnoreCase);

        // Each figure is embedded byte for byte as it was written to figures/.
        MatchCollection images = Regex.Matches(report.Html, @"src=""data:image/png;base64,([A-Za-z0-9+/=]+)""");
        Assert.Equal(report.Files.Figures.Count, images.Count);
        for (int i = 0; i < images.Count; i++)
            Assert.Equal(File.ReadAllBytes(report.Files.Figures[i]), Convert.FromBase64String(images[i].Groups[1].Value));
    }

    [Fact]
    public void Write_MissingTrainingLog_NamesItInHtml()
    {
        Assert.Contains("Training logs without data", report.Html);
        Assert.Contains("morl mu=0.5: no log at", report.Html);
    }

    [Fact]
    public void Write_ThreeRewards_WritesEveryPairProjectionAndNoLambdaFigure()
    {
        using var dir = new TempDir();
        ExperimentResults results = ResultsFixtures.ThreeRewards();
        string log = ResultsFixtures.WriteTrainLog(dir.File("train_log.csv"), 10);

        ReportFiles files = ExperimentReport.Write(results, [("expert a", log)], dir.Path);

        Assert.Equal(["pareto.png", "pareto-1-2.png", "pareto-1-3.png", "pareto-2-3.png", "learning.png", "cost.png"],
            files.Figures.Select(f => Path.GetFileName(f)).ToArray());
        foreach (string figure in files.Figures) AssertValidPng(figure);
        // pareto-1-2.png is pareto.png under the pair pattern: same bytes, embedded once.
        Assert.Equal(File.ReadAllBytes(files.Figures[0]), File.ReadAllBytes(files.Figures[1]));
        string html = File.ReadAllText(files.Html);
        Assert.Equal(5, Regex.Matches(html, "data:image/png;base64,").Count);
        foreach (PolicyResult policy in results.Policies) Assert.Contains(policy.Label, html);
        Assert.Contains("512.5", html);
        Assert.Contains("400.3", html); // 400.25: four significant digits
        Assert.Contains("RS&#39;s front is ahead of MORL&#39;s by hypervolume", html);
        Assert.Contains("drawn for two experts only", html);
    }

    [Fact]
    public void Write_SingleEpisodeIntervals_SaysNoIntervalAndMakesNoDisjointnessClaim()
    {
        using var dir = new TempDir();
        ExperimentResults results = ResultsFixtures.TwoRewards(singleEpisode: true);

        ReportFiles files = ExperimentReport.Write(results, [], dir.Path);

        foreach (string figure in files.Figures) AssertValidPng(figure);
        string html = File.ReadAllText(files.Html);
        Assert.Contains("1500 [no interval]", html);
        Assert.DoesNotContain("intervals disjoint", html);
        Assert.DoesNotContain("intervals overlap", html);
        // Text only: base64 image data may spell "NaN" by chance.
        Assert.DoesNotContain("NaN", Regex.Replace(html, "base64,[A-Za-z0-9+/=]+", "base64,"));
    }

    [Fact]
    public void Write_PolicyWithWrongRewardCount_ThrowsNamingThePolicy()
    {
        using var dir = new TempDir();
        ExperimentResults good = ResultsFixtures.TwoRewards();
        PolicyResult broken = good.Policies[4] with { Mean = [1.0] };
        ExperimentResults results = good with { Policies = good.Policies.Select(p => p == good.Policies[4] ? broken : p).ToList() };

        var error = Assert.Throws<ArgumentException>(() => ExperimentReport.Write(results, [], dir.Path));

        Assert.Contains($"policy '{broken.Label}': mean has 1 values for 2 rewards", error.Message);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void SummaryTable_TwoRewards_StatesExpertsFrontsCostAndLmc()
    {
        string table = ExperimentReport.SummaryTable(ResultsFixtures.TwoRewards());

        Assert.Contains("forward: expert forward 1500 [1425, 1575] vs init 100 [95, 105]; intervals disjoint, expert better", table);
        Assert.Contains("energy: expert energy -20 [-21, -19] vs init -50 [-52.5, -47.5]; intervals disjoint", table);
        Assert.Matches(@"RS\s+123,457\s+820\.5\s+3,000,000", table);
        Assert.Matches(@"MORL\s+148,000\s+905\.3\s+6,000,000", table); // EU 905.25 to four significant digits
        Assert.Matches(@"RS/MORL\s+83\.4%\s+50%", table);
        Assert.Contains("forward -20.25 / -11.13; energy -21.25 / -12.13", table);
    }

    [Fact]
    public void SummaryTable_ExpertWorseThanInit_SaysSoRatherThanJustDisjoint()
    {
        ExperimentResults good = ResultsFixtures.TwoRewards();
        PolicyResult expert = good.Policies[1] with { Mean = [50, -400], Low = [45, -420], High = [55, -380] };
        ExperimentResults results = good with { Policies = good.Policies.Select(p => p == good.Policies[1] ? expert : p).ToList() };

        string table = ExperimentReport.SummaryTable(results);

        Assert.Contains("forward: expert forward 50 [45, 55] vs init 100 [95, 105]; intervals disjoint, expert WORSE", table);
    }

    [Fact]
    public void SummaryTable_OverlappingIntervalsButPairedGainAboveZero_StatesBoth()
    {
        ExperimentResults good = ResultsFixtures.TwoRewards();
        PolicyResult expert = good.Policies[1] with
        {
            Mean = [103, -40],
            Low = [98, -42],
            High = [108, -38],
            Gain = new GainResult { Mean = [3, 10], Low = [1.5, -2], High = [4.5, 22] },
        };
        ExperimentResults results = good with { Policies = good.Policies.Select(p => p == good.Policies[1] ? expert : p).ToList() };

        string table = ExperimentReport.SummaryTable(results);

        Assert.Contains("forward: expert forward 103 [98, 108] vs init 100 [95, 105]; intervals overlap; paired gain +3 [+1.5, +4.5], above 0", table);
        Assert.DoesNotContain("paired gain +10", table); // the energy expert has no gain of its own in these results
    }

    [Fact]
    public void SummaryTable_MorlHypervolumeZero_SaysRatioIsUndefined()
    {
        ExperimentResults good = ResultsFixtures.TwoRewards();
        ExperimentResults results = good with { MorlFront = good.MorlFront with { Hypervolume = 0 } };

        string table = ExperimentReport.SummaryTable(results);

        Assert.Matches(@"RS/MORL\s+n/a", table);
        Assert.Contains("so the hypervolume ratio is undefined", table);
    }

    [Fact]
    public void SummaryTable_CommaDecimalCulture_StillWritesInvariantNumbers()
    {
        CultureInfo original = CultureInfo.CurrentCulture;
        var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = ",";
        comma.NumberFormat.NumberGroupSeparator = ".";
        try
        {
            CultureInfo.CurrentCulture = comma;
            string table = ExperimentReport.SummaryTable(ResultsFixtures.TwoRewards());
            Assert.Contains("905.3", table);
            Assert.Contains("6,000,000", table);
        }
        finally
        {
            CultureInfo.CurrentCulture = original;
        }
    }

    /// <summary>PNG signature, an IHDR chunk first with a plausible size, and more bytes than a blank image.</summary>
    private static void AssertValidPng(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 10_000, $"{path}: only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        int width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        int height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        Assert.InRange(width, 400, 4000);
        Assert.InRange(height, 300, 4000);
    }
}
