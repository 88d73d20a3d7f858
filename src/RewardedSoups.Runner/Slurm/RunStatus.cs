using System.Globalization;

namespace RewardedSoups.Runner.Slurm;

/// <summary>One job's state for <c>soup status</c>.</summary>
/// <param name="State">done, running, queued, failed, cancelled (a job it needs failed, or scancel), interrupted (a local job stopped mid-way), not started.</param>
/// <param name="SlurmJob">The Slurm job id last submitted for it, if any.</param>
/// <param name="SlurmState">What Slurm says of that job (RUNNING, PENDING, TIMEOUT…), when it still knows it.</param>
/// <param name="LogTail">For a failed, cancelled or interrupted job: the last lines of its log.</param>
public sealed record JobStatus(string Id, string State, string? SlurmJob, string? SlurmState, string Log, IReadOnlyList<string> LogTail);

/// <summary>A run's jobs and their states.</summary>
public sealed record RunStatusReport(string RunDir, string Executor, IReadOnlyList<JobStatus> Jobs, RunCounts Counts, int Cancelled, string? ReportJob, string? ReportState)
{
    public string Summary => Counts + (Cancelled > 0 ? $", {Cancelled} cancelled" : "");
}

/// <summary>Reads the state of every job of a run folder: its finished marker, Slurm's word for what it submitted, the job folder's lock.</summary>
public static class RunStatus
{
    /// <summary>Lines of a job's log shown for a job that did not finish.</summary>
    public const int TailLines = 8;

    public static RunStatusReport Read(ExperimentPlan plan, SlurmClient? client)
    {
        SlurmSubmissions submitted = SlurmExecutor.ReadSubmissions(plan.RunDir);
        bool slurm = submitted.Jobs.Count > 0 || submitted.Report is not null;
        IReadOnlyDictionary<string, SlurmJobState> states = slurm && client is not null
            ? client.States(submitted.Ids.ToList()) : new Dictionary<string, SlurmJobState>();
        var jobs = new List<JobStatus>();
        int done = 0, running = 0, queued = 0, failed = 0, cancelled = 0;
        foreach (Job job in plan.Jobs)
        {
            string log = Path.Combine(plan.JobDir(job), ExperimentRunner.JobLog);
            string? slurmId = submitted.Jobs.GetValueOrDefault(job.Id);
            SlurmJobState? s = slurmId is null ? null : states.GetValueOrDefault(slurmId);
            string state;
            if (plan.IsDone(job)) state = "done";
            else if (s is { Alive: true }) state = s.Running ? "running" : "queued";
            else if (s is { State: "CANCELLED" }) state = "cancelled";
            else if (slurmId is not null && client is not null) state = "failed";   // Slurm ran it, or forgot it, and it is not done
            else if (LocalProcessRuns(plan.JobDir(job), job.Id)) state = "running";
            else if (File.Exists(log)) state = Tail(log, int.MaxValue).Any(l => l.StartsWith("error: ", StringComparison.Ordinal)) ? "failed" : "interrupted";
            else state = "not started";
            switch (state)
            {
                case "done": done++; break;
                case "running": running++; break;
                case "queued": queued++; break;
                case "failed": failed++; break;
                case "cancelled": cancelled++; break;
            }
            IReadOnlyList<string> tail = state is "failed" or "cancelled" or "interrupted" && File.Exists(log) ? Tail(log, TailLines) : [];
            jobs.Add(new JobStatus(job.Id, state, slurmId, s?.State, log, tail));
        }
        SlurmJobState? report = submitted.Report is null ? null : states.GetValueOrDefault(submitted.Report);
        return new RunStatusReport(plan.RunDir, slurm ? "slurm" : "local", jobs, new RunCounts(plan.Jobs.Count, done, running, queued, failed), cancelled,
            submitted.Report, report?.State);
    }

    /// <summary>Whether the process that holds the job folder's lock (its PID beside the lock) is alive and runs this job.</summary>
    private static bool LocalProcessRuns(string jobDir, string jobId)
    {
        string pidFile = Path.Combine(jobDir, FolderLock.HolderFileName);
        if (!File.Exists(pidFile) || new FileInfo(pidFile).Length > 32) return false;
        if (!int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) return false;
        string cmdline = $"/proc/{pid}/cmdline";
        try
        {
            return File.Exists(cmdline) && File.ReadAllText(cmdline).Split('\0').Contains(jobId);
        }
        catch (IOException)
        {
            return false;   // it just exited
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of a log, read from its last 64 KiB.</summary>
    public static IReadOnlyList<string> Tail(string path, int lines)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            long start = Math.Max(0, stream.Length - 64 * 1024);
            stream.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
            if (start > 0 && all.Count > 0) all.RemoveAt(0);   // a line cut by the window
            return all.TakeLast(lines).Select(l => Printable.Escape(l, 400)).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }
}
