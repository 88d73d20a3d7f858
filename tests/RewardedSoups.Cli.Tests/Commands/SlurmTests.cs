using System.Diagnostics;
using System.Text.RegularExpressions;
using RewardedSoups.Runner.Slurm;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>
/// A real single-node Slurm (Debian's slurm-wlm and munge) started by <c>scripts/slurm-local.sh</c> in a folder of
/// its own, and stopped by the PIDs it started when the tests are done. If it cannot start, every test of the
/// collection fails with the script's one-line reason: never skipped.
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    public SlurmCluster()
    {
        Dir = Path.Combine(Path.GetTempPath(), $"soup-slurm-test-{Environment.ProcessId}");
        (int exit, string err) = Script("start");
        if (exit != 0) throw new InvalidOperationException($"the local Slurm cluster did not start (scripts/slurm-local.sh start): {err.Trim()}");
        // In-process soup commands and the sbatch/squeue they start find the cluster through it.
        Environment.SetEnvironmentVariable("SLURM_CONF", Path.Combine(Dir, "slurm.conf"));
    }

    public string Dir { get; }

    public void Dispose()
    {
        Script("stop");
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // a daemon's last write: the folder is in /tmp
        }
    }

    private (int Exit, string Err) Script(string action)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(CliRunner.RepositoryRoot(), "scripts", "slurm-local.sh"), action, Dir }) start.ArgumentList.Add(a);
        using Process p = Process.Start(start)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err.Result);
    }
}

[CollectionDefinition("slurm")]
public sealed class SlurmCollection : ICollectionFixture<SlurmCluster>;

/// <summary>
/// <c>soup run --executor slurm</c> against the real cluster: the same results as a local run; a job told to
/// stop (USR1, as ahead of a time limit) requeues itself and resumes; a cancelled run submitted again
/// finishes without redoing what was done; a failed job is reported with its log and its dependants never run;
/// bad input is refused before anything is submitted, or undone.
/// </summary>
[Collection("slurm")]
public sealed class SlurmTests(SlurmCluster cluster) : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>Cancels what a failed test left in Slurm (the runs are in the temporary folder), then deletes the folder.</summary>
    public void Dispose()
    {
        foreach (string run in Directory.EnumerateDirectories(_dir.Path).Where(d => File.Exists(SlurmExecutor.SubmittedPath(d))))
        {
            SlurmExecutor.Cancel(run, SlurmClient.Find());
            WaitFor(() => States(run).Values.All(s => !s.Alive), "the run's Slurm jobs to end", 60);
        }
        _dir.Dispose();
    }

    /// <summary>The tiny configuration with an init of 8 updates (long enough to be interrupted mid-way), no MORL and the experts as the only soups: 10 jobs.</summary>
    private string Config(string name = "slurm-tiny", string executor = "")
    {
        string path = _dir.File($"{name}.yaml");
        File.WriteAllText(path, """
            name: NAME
            task: cheetah
            pretrain:
              reward: {name: default, terms: {forward_velocity: 1, control_cost: -0.1}}
              steps: 2048
            experts:
              rewards: [risky, cautious]
              steps: 512
            soups:
              step: 1
            evaluation:
              episodes: 2
              seeds: [1000]
            ppo: {envs: 4, rollout_steps: 64, minibatches: 2, epochs: 2}
            EXECUTOR
            """.Replace("NAME", name, StringComparison.Ordinal).Replace("EXECUTOR", executor, StringComparison.Ordinal));
        return path;
    }

    private static SlurmSubmissions Submitted(string run) => SlurmExecutor.ReadSubmissions(run);

    private static IReadOnlyDictionary<string, SlurmJobState> States(string run) => SlurmClient.Find().States(Submitted(run).Ids.ToList());

    private static void WaitFor(Func<bool> condition, string what, int seconds = 240)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out after {seconds} s waiting for {what}");
            Thread.Sleep(200);
        }
    }

    private static int Rows(string csv)
    {
        try
        {
            return File.Exists(csv) ? File.ReadLines(csv).Count() - 1 : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [Fact]
    public void Run_ThroughSlurm_Usr1ThenCancelThenAgain_FinishesWithTheLocalResults_RedoingNothingDone()
    {
        string config = Config();
        string local = _dir.File("local");
        var straight = CliRunner.Run("run", config, "--out", local);
        Assert.True(straight.Exit == 0, straight.Err);
        var localStatus = CliRunner.Run("status", local, "--json");
        Assert.True(localStatus.Exit == 0, localStatus.Err);
        Assert.Contains("\"executor\": \"local\"", localStatus.Out);
        Assert.Contains("\"done\": 10", localStatus.Out);

        string run = _dir.File("slurm");
        var submit = CliRunner.Run("run", config, "--out", run, "--executor", "slurm");
        Assert.True(submit.Exit == 0, submit.Err);
        Assert.Contains("submitted", submit.Out);
        SlurmSubmissions first = Submitted(run);
        Assert.Equal(10, first.Jobs.Count);   // init, 2 experts, 2 soups (λ = the vertices) and an evaluation of each
        Assert.NotNull(first.Report);

        // USR1, as Slurm sends it ahead of a time limit: the init stops after a logged update, requeues itself, resumes.
        string initLog = Path.Combine(run, "jobs", "s1-init", "train_log.csv");
        WaitFor(() => Rows(initLog) >= 1, "the init's first update");
        Signal(first.Jobs["s1-init"], "USR1");
        // Then the whole run is cancelled once an expert is training, and submitted again.
        WaitFor(() => Directory.EnumerateFiles(Path.Combine(run, "jobs"), "train_log.csv", SearchOption.AllDirectories)
            .Any(f => f.Contains("expert", StringComparison.Ordinal) && Rows(f) >= 1), "an expert's first update");
        DateTime initDone = File.GetLastWriteTimeUtc(Path.Combine(run, "jobs", "s1-init", "job.json"));
        var cancel = CliRunner.Run("cancel", run);
        Assert.True(cancel.Exit == 0, cancel.Err);
        Assert.Contains("cancelled", cancel.Out);
        WaitFor(() => States(run).Values.All(s => !s.Alive), "no live Slurm job of the run", 60);

        var status = CliRunner.Run("status", run);
        Assert.True(status.Exit == 0, status.Err);
        Assert.Matches("(?m)^s1-init +done", status.Out);
        Assert.Matches(@"\d+/10 done, 0 running, 0 queued, \d+ failed", status.Out);

        var again = CliRunner.Run("run", config, "--out", run, "--executor", "slurm", "--wait");
        Assert.True(again.Exit == 0, again.Err);
        Assert.Equal(File.ReadAllText(Path.Combine(local, "results.json")), File.ReadAllText(Path.Combine(run, "results.json")));
        // The init was not redone, and it had resumed rather than restarted: 8 updates, each logged once.
        Assert.Equal(initDone, File.GetLastWriteTimeUtc(Path.Combine(run, "jobs", "s1-init", "job.json")));
        Assert.Equal(Enumerable.Range(1, 8).Select(u => u.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            File.ReadLines(initLog).Skip(1).Select(l => l.Split(',')[0]));
        Assert.Contains("stopped by USR1", File.ReadAllText(Path.Combine(run, "jobs", "s1-init", "job.log")));
        var done = CliRunner.Run("status", run, "--json");
        Assert.Contains("\"done\": 10", done.Out);
    }

    [Fact]
    public void FailedJob_IsReportedWithItsLog_ItsDependantsAreCancelled_AndCancelStopsTheRest()
    {
        string config = Config("slurm-fail");
        string run = _dir.File("run");
        var submit = CliRunner.Run("run", config, "--out", run, "--executor", "slurm");
        Assert.True(submit.Exit == 0, submit.Err);
        // Bad input planted in a queued job's folder: a checkpoint that is not one.
        File.WriteAllText(Path.Combine(run, "jobs", "s1-expert-1", "checkpoint.safetensors"), "not a checkpoint");
        WaitFor(() => Regex.IsMatch(CliRunner.Run("status", run).Out, "(?m)^s1-expert-1 +failed"), "s1-expert-1 to fail");
        WaitFor(() => Regex.IsMatch(CliRunner.Run("status", run).Out, "(?m)^s1-expert-1-eval +cancelled"), "its evaluation to be cancelled");
        var status = CliRunner.Run("status", run);
        Assert.Matches(@"\| error: .*checkpoint\.safetensors", status.Out);   // the failed job's log tail
        foreach (string soup in new[] { "s1-soup-01", "s1-soup-02" }) Assert.Matches($"(?m)^{soup} +cancelled", status.Out);
        Assert.Matches(@"\d+/10 done, \d+ running, \d+ queued, 1 failed, \d+ cancelled", status.Out);
        Assert.False(File.Exists(Path.Combine(run, "jobs", "s1-soup-01", "job.json")));

        var cancel = CliRunner.Run("cancel", run);
        Assert.True(cancel.Exit == 0, cancel.Err);
        WaitFor(() => States(run).Values.All(s => !s.Alive), "no live Slurm job of the run", 60);
        Assert.False(File.Exists(Path.Combine(run, "results.json")));
    }

    [Fact]
    public void BadInput_IsRefused_BeforeAnythingIsSubmitted_OrUndone()
    {
        // A submission Slurm refuses half-way (evaluations ask more than the partition's 1-day limit; the init's is
        // the fourth job submitted): the three jobs queued before it are cancelled, and the run folder says so.
        string config = Config("slurm-refused", "executor: {time: {eval: \"2-00:00:00\"}}");
        string run = _dir.File("refused");
        var refused = CliRunner.Run("run", config, "--out", run, "--executor", "slurm");
        Assert.Equal(2, refused.Exit);
        Assert.Single(refused.ErrLines);
        Assert.Contains("sbatch refused job 's1-init-eval'", refused.Err);
        Assert.Contains("cancelled the 3 Slurm jobs submitted before it", refused.Err);
        Assert.Contains("cancelled the 3 Slurm jobs", File.ReadAllText(Path.Combine(run, "slurm", "submit.log")));
        string[] undone = Regex.Match(refused.Err, @"submitted before it \(([0-9 ]+)\)").Groups[1].Value.Split(' ');
        Assert.Equal(3, undone.Length);
        WaitFor(() => SlurmClient.Find().States(undone) is { Count: 3 } states && states.Values.All(s => s.State == "CANCELLED"), "the 3 jobs to be cancelled", 60);
        Assert.Empty(Submitted(run).Jobs);

        string unknown = Config("slurm-key", "executor: {kind: slurm, partitions: debug}");
        var key = CliRunner.Run("run", unknown, "--out", _dir.File("key"));
        Assert.Equal(2, key.Exit);
        Assert.Contains("executor.partitions", key.Err);
        Assert.False(Directory.Exists(_dir.File("key")));

        // No sbatch on PATH: said in one line, nothing created.
        string bin = _dir.File("bin");
        Directory.CreateDirectory(bin);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["PATH"] = bin;
        foreach (string a in new[] { typeof(Cli.Program).Assembly.Location, "run", Config("slurm-path"), "--out", _dir.File("path"), "--executor", "slurm" }) start.ArgumentList.Add(a);
        using Process p = Process.Start(start)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("'sbatch' is not on PATH", err);
        Assert.False(Directory.Exists(_dir.File("path")));
        _ = cluster;
    }

    private static void Signal(string slurmJob, string signal)
    {
        var start = new ProcessStartInfo("scancel") { RedirectStandardError = true };
        foreach (string a in new[] { "--batch", $"--signal={signal}", slurmJob }) start.ArgumentList.Add(a);
        using Process p = Process.Start(start)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err);
    }
}
