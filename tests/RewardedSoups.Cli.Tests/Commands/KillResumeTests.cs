using System.Diagnostics;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>
/// A whole run killed (SIGKILL, the whole process tree) in the middle of trainings and resumed writes the
/// results.json of a run never killed, byte for byte.
/// </summary>
public sealed class KillResumeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Run_KilledDuringTrainingsTwice_ResumesToTheUninterruptedResults()
    {
        string straight = _dir.File("straight");
        var whole = SharedRuns.CopyTo("tiny", straight);
        Assert.True(whole.Exit == 0, whole.Err);

        string killed = _dir.File("killed");
        // Killed once the init has logged its first update, then once an expert has: both mid-training.
        KillWhen(killed, () => Rows(Path.Combine(killed, "jobs", "s1-init", "train_log.csv")) >= 1);
        KillWhen(killed, () => Directory.Exists(Path.Combine(killed, "jobs"))
            && Directory.EnumerateDirectories(Path.Combine(killed, "jobs"), "s1-expert-*").Any(d => Rows(Path.Combine(d, "train_log.csv")) >= 1));
        var resumed = CliRunner.Run("run", "tiny", "--out", killed);
        Assert.True(resumed.Exit == 0, resumed.Err);

        Assert.Equal(File.ReadAllText(Path.Combine(straight, "results.json")), File.ReadAllText(Path.Combine(killed, "results.json")));
    }

    /// <summary>Starts <c>soup run tiny</c> as a child process and kills its whole tree as soon as <paramref name="condition"/> holds.</summary>
    private static void KillWhen(string run, Func<bool> condition)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { typeof(Cli.Program).Assembly.Location, "run", "tiny", "--out", run }) start.ArgumentList.Add(a);
        using Process soup = Process.Start(start)!;
        _ = soup.StandardOutput.ReadToEndAsync();
        _ = soup.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!soup.HasExited && !condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(5)) break;   // bounded: a stuck run fails the comparison, not the suite's clock
            Thread.Sleep(10);
        }
        Assert.False(soup.HasExited, "the run finished before the moment it was to be killed at");
        soup.Kill(entireProcessTree: true);
        soup.WaitForExit();
    }

    private static int Rows(string csv)
    {
        try
        {
            return File.Exists(csv) ? File.ReadLines(csv).Count() - 1 : 0;
        }
        catch (IOException)
        {
            return 0;   // being rewritten at this instant
        }
    }
}
