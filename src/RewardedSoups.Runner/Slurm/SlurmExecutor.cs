using System.Globalization;
using System.Text;
using System.Text.Json;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.Runner.Slurm;

/// <summary>What <c>RUN_DIR/slurm/submitted.json</c> remembers: the Slurm job id last submitted for each job, and for the report job.</summary>
public sealed record SlurmSubmissions(Dictionary<string, string> Jobs, string? Report)
{
    public static SlurmSubmissions Empty => new([], null);

    public IEnumerable<string> Ids => Report is null ? Jobs.Values : Jobs.Values.Append(Report);
}

/// <summary>Counts of a run's jobs by state.</summary>
public sealed record RunCounts(int Total, int Done, int Running, int Queued, int Failed)
{
    public override string ToString() => $"{Done}/{Total} done, {Running} running, {Queued} queued, {Failed} failed";
}

/// <summary>
/// Runs an experiment's plan on Slurm: every job not finished becomes a Slurm job running
/// <c>soup job RUN_DIR ID</c>, with <c>--dependency=afterok:</c> on the Slurm jobs of the jobs it needs
/// (and <c>--kill-on-invalid-dep=yes</c>, so a failed job's dependants are cancelled, never left pending).
/// What was submitted is written to <c>RUN_DIR/slurm/submitted.json</c> after every submission; submitting
/// again asks Slurm which of those are alive and submits only the jobs neither finished nor alive, so a
/// job never has two live copies, and one Slurm killed (time limit, node failure, scancel) is submitted
/// again and resumes from its checkpoint. Logs go to the job's <c>job.log</c>, as in a local run.
/// </summary>
public sealed class SlurmExecutor
{
    public const string Folder = "slurm";
    public const string SubmittedFile = "submitted.json";
    public const string SubmitLog = "submit.log";

    private readonly ExperimentPlan _plan;
    private readonly ExecutorSettings _settings;
    private readonly SlurmClient _client;
    private readonly Func<Job?, IReadOnlyList<string>> _command;

    /// <param name="command">The command line of a job (<c>soup job RUN_DIR ID</c>), or of the report job for null.</param>
    public SlurmExecutor(ExperimentPlan plan, ExecutorSettings settings, SlurmClient client, Func<Job?, IReadOnlyList<string>> command)
    {
        _plan = plan;
        _settings = settings;
        _client = client;
        _command = command;
    }

    private string Dir => Path.Combine(_plan.RunDir, Folder);

    public static string SubmittedPath(string runDir) => Path.Combine(runDir, Folder, SubmittedFile);

    /// <summary>What was submitted for this run folder (empty when never).</summary>
    public static SlurmSubmissions ReadSubmissions(string runDir)
    {
        string path = SubmittedPath(runDir);
        if (!File.Exists(path)) return SlurmSubmissions.Empty;
        if (new FileInfo(path).Length > 4 << 20) throw new SoupInputException($"{path}: larger than 4 MiB; not a submission record");
        try
        {
            return JsonSerializer.Deserialize<SlurmSubmissions>(File.ReadAllText(path)) ?? SlurmSubmissions.Empty;
        }
        catch (JsonException e)
        {
            throw new SoupInputException($"{path}: not a submission record: {e.Message.Split('\n')[0]}");
        }
    }

    private void Save(SlurmSubmissions submissions)
    {
        Directory.CreateDirectory(Dir);
        AtomicOutput.WriteAllText(SubmittedPath(_plan.RunDir), JsonSerializer.Serialize(submissions, new JsonSerializerOptions { WriteIndented = true }));
    }

    private void Note(string line)
    {
        Directory.CreateDirectory(Dir);
        File.AppendAllText(Path.Combine(Dir, SubmitLog), $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {line}\n");
    }

    /// <summary>
    /// Submits every job neither finished nor alive in Slurm, in dependency order; with <paramref name="report"/>,
    /// also a last job (after all others) that writes results.json and the report. If Slurm refuses a
    /// submission, the jobs submitted by this call are cancelled, <c>slurm/submit.log</c> says so, and the
    /// refusal is thrown: nothing is left half-submitted.
    /// </summary>
    public void Submit(Func<Job, int> threadsOf, bool report, Action<string> log)
    {
        SlurmSubmissions previous = ReadSubmissions(_plan.RunDir);
        IReadOnlyDictionary<string, SlurmJobState> states = _client.States(previous.Ids.ToList());
        bool Alive(string? id) => id is not null && states.TryGetValue(id, out SlurmJobState? s) && s.Alive;

        var jobs = new Dictionary<string, string>();          // this plan's jobs not done → their live Slurm job
        var record = new Dictionary<string, string>(previous.Jobs);
        var submittedNow = new List<string>();
        int alreadyQueued = 0, done = 0;
        foreach (Job job in Ordered())
        {
            if (_plan.IsDone(job))
            {
                done++;
                continue;
            }
            if (previous.Jobs.TryGetValue(job.Id, out string? live) && Alive(live))
            {
                jobs[job.Id] = live;
                alreadyQueued++;
                continue;
            }
            // Its dependencies are done, alive, or submitted just now (the order is topological).
            string[] after = job.DependsOn.Where(d => !_plan.IsDone(_plan.Get(d))).Select(d => jobs[d]).ToArray();
            string id = SubmitOrUndo(job, threadsOf(job), after, submittedNow, previous);
            jobs[job.Id] = record[job.Id] = id;
            submittedNow.Add(id);
            Save(new SlurmSubmissions(record, previous.Report));   // after every submission: a crash here forgets nothing
        }
        string? reportId = null;
        bool newReport = false;
        if (report)
        {
            newReport = !Alive(previous.Report);
            reportId = newReport ? SubmitOrUndo(null, 1, jobs.Values.ToArray(), submittedNow, previous) : previous.Report;
            if (newReport) submittedNow.Add(reportId!);
        }
        else if (Alive(previous.Report)) reportId = previous.Report;
        Save(new SlurmSubmissions(record, reportId));
        if (submittedNow.Count > 0) Note($"submitted {submittedNow.Count} Slurm jobs: {string.Join(' ', submittedNow)}");
        int submittedJobs = submittedNow.Count - (newReport ? 1 : 0);
        log($"{_plan.Jobs.Count} jobs: {done} done, {alreadyQueued} already queued or running, {submittedJobs} submitted to Slurm" +
            (reportId is null ? "" : $"; results and report by Slurm job {reportId}"));
    }

    /// <summary>The plan's jobs, each after those it depends on.</summary>
    private List<Job> Ordered()
    {
        var order = new List<Job>();
        var placed = new HashSet<string>();
        var left = _plan.Jobs.ToList();
        while (left.Count > 0)
        {
            var ready = left.Where(j => j.DependsOn.All(placed.Contains)).ToList();
            if (ready.Count == 0) throw new InvalidOperationException($"no job can be ordered among {left.Count}: a dependency cycle or a missing job");
            foreach (Job j in ready)
            {
                order.Add(j);
                placed.Add(j.Id);
                left.Remove(j);
            }
        }
        return order;
    }

    private string SubmitOrUndo(Job? job, int threads, string[] after, List<string> submittedNow, SlurmSubmissions previous)
    {
        try
        {
            return SubmitOne(job, threads, after);
        }
        catch (SoupInputException e)
        {
            // Nothing half-submitted: what this call queued is cancelled, and the record is what it was.
            string undone = "";
            if (submittedNow.Count > 0)
            {
                try
                {
                    _client.Cancel(submittedNow);
                    undone = $"; cancelled the {submittedNow.Count} Slurm jobs submitted before it ({string.Join(' ', submittedNow)})";
                }
                catch (SoupInputException c)
                {
                    undone = $"; could not cancel the {submittedNow.Count} Slurm jobs submitted before it ({string.Join(' ', submittedNow)}): {c.Message}";
                }
                Save(previous);
            }
            Note($"{e.Message}{undone}");
            throw new SlurmException($"{e.Message}{undone}");
        }
    }

    private string SubmitOne(Job? job, int threads, string[] after)
    {
        string name = job?.Id ?? "report";
        string jobDir = job is null ? _plan.RunDir : _plan.JobDir(job);
        Directory.CreateDirectory(jobDir); // Slurm does not create the folder of --output
        string scripts = Path.Combine(Dir, "scripts");
        Directory.CreateDirectory(scripts);
        string script = Path.Combine(scripts, $"{name}.sh");
        AtomicOutput.WriteAllText(script, Script(job, threads));
        string kind = job is null ? "report" : ExecutorSettings.KindOf(job);
        var options = new List<string>
        {
            "--parsable",
            $"--job-name=soup-{_plan.Config.Name}-{name}",
            $"--output={Path.Combine(jobDir, job is null ? "report.log" : ExperimentRunner.JobLog)}",
            "--open-mode=append",
            $"--chdir={_plan.RunDir}",
            $"--cpus-per-task={_settings.CpusPerTask ?? threads}",
            "--kill-on-invalid-dep=yes",
        };
        if (job is not null)
        {
            // Ahead of its time limit the job is told (USR1) to checkpoint, requeue itself and exit.
            options.Add($"--signal=B:USR1@{_settings.SignalSeconds}");
            options.Add("--requeue");
        }
        if (after.Length > 0) options.Add($"--dependency=afterok:{string.Join(':', after)}");
        if (_settings.Time.TryGetValue(kind, out string? time)) options.Add($"--time={time}");
        if (_settings.Partition is not null) options.Add($"--partition={_settings.Partition}");
        if (_settings.Account is not null) options.Add($"--account={_settings.Account}");
        if (_settings.Qos is not null) options.Add($"--qos={_settings.Qos}");
        if (_settings.Mem is not null) options.Add($"--mem={_settings.Mem}");
        if (_settings.Gres is not null) options.Add($"--gres={_settings.Gres}");
        options.AddRange(_settings.SbatchArgs);
        return _client.Submit(options, script, job is null ? "the report job" : $"job '{job.Id}'");
    }

    /// <summary>The batch script: the configuration's setup lines, then the job's command in place of the shell (so signals reach it).</summary>
    private string Script(Job? job, int threads)
    {
        var text = new StringBuilder();
        text.Append("#!/bin/bash\n");
        text.Append(CultureInfo.InvariantCulture, $"# {(job is null ? "results and report" : $"job {job.Id}")} of the run in {_plan.RunDir}, written by soup run --executor slurm\n");
        text.Append("set -e\n");
        foreach (string line in _settings.Setup) text.Append(line).Append('\n');
        text.Append("export MKL_CBWR=\"${MKL_CBWR:-AUTO,STRICT}\"\n");
        text.Append(CultureInfo.InvariantCulture, $"export SOUP_JOB_THREADS={threads}\n");
        text.Append("exec ").Append(string.Join(' ', _command(job).Select(Quote))).Append('\n');
        return text.ToString();
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// Waits until every job is done, reporting the counts whenever they change. A failed or cancelled job ends
    /// the wait with its error and log (the other jobs go on in Slurm); so does a job that is neither done nor
    /// alive in Slurm. Cancelling the wait (Ctrl+C) leaves the jobs to Slurm.
    /// </summary>
    public void Wait(Action<RunCounts> progress, TimeSpan poll, CancellationToken cancel)
    {
        RunCounts? last = null;
        while (true)
        {
            RunStatusReport status = RunStatus.Read(_plan, _client);
            if (status.Counts != last) progress(status.Counts);
            last = status.Counts;
            if (status.Counts.Done == status.Counts.Total) return;
            JobStatus? bad = status.Jobs.FirstOrDefault(j => j.State is "failed" or "cancelled");
            if (bad is not null)
            {
                string? error = RunStatus.Tail(bad.Log, int.MaxValue).LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal));
                throw new JobFailedException(
                    $"job '{bad.Id}' {(bad.State == "cancelled" ? "was cancelled" : "failed")} (Slurm job {bad.SlurmJob}{(bad.SlurmState is null ? "" : $", {bad.SlurmState}")})" +
                    $"{(error is null ? "" : ": " + error["error: ".Length..])}; its log: {bad.Log}; the run's other jobs go on in Slurm " +
                    $"(soup status {_plan.RunDir}; soup cancel {_plan.RunDir})");
            }
            if (status.Counts.Running + status.Counts.Queued == 0)
            {
                string[] idle = status.Jobs.Where(j => j.State != "done").Select(j => j.Id).Take(5).ToArray();
                throw new JobFailedException($"{status.Counts.Total - status.Counts.Done} jobs are neither done nor in Slurm (e.g. {string.Join(", ", idle)}); run the same soup run again to submit them");
            }
            if (cancel.WaitHandle.WaitOne(poll)) cancel.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Cancels the run's live Slurm jobs (only those it submitted); returns their ids.</summary>
    public static IReadOnlyList<string> Cancel(string runDir, SlurmClient client)
    {
        SlurmSubmissions submitted = ReadSubmissions(runDir);
        var live = client.States(submitted.Ids.ToList()).Values.Where(s => s.Alive).Select(s => s.Id).ToList();
        client.Cancel(live);
        if (live.Count > 0)
        {
            Directory.CreateDirectory(Path.Combine(runDir, Folder));
            File.AppendAllText(Path.Combine(runDir, Folder, SubmitLog), $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} cancelled {live.Count} Slurm jobs: {string.Join(' ', live)}\n");
        }
        return live;
    }
}
