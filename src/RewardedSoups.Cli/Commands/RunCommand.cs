using System.CommandLine;
using System.Diagnostics;
using RewardedSoups.Runner;
using RewardedSoups.Runner.Report;
using RewardedSoups.Runner.Slurm;
using Spectre.Console;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup run CONFIG [--out DIR]</c>, <c>soup job RUN_DIR JOB_ID</c> and <c>soup report RUN_DIR</c>:
/// the experiment pipeline. Jobs run as child processes of this same program.
/// </summary>
public static class RunCommand
{
    /// <summary>SIGUSR1 on Linux (x86-64 and arm64).</summary>
    private const int SigUsr1 = 10;

    /// <summary>Environment variable through which <c>soup run</c> tells a job process its number of compute threads.</summary>
    public const string ThreadsVariable = "SOUP_JOB_THREADS";

    public static Command CreateRun(CommandContext context)
    {
        var config = new Argument<string>("config") { Description = "Experiment configuration (YAML or JSON), or the name of a built-in one (see configs/)." };
        var output = new Option<string?>("--out") { Description = "Run folder (default: runs/NAME). Re-running on it resumes and skips finished jobs." };
        var jobs = new Option<int?>("--jobs") { Description = "Jobs at once (default: the configuration's parallelism, else one per core)." };
        var reuse = new Option<string?>("--reuse")
        {
            Description = "Another run folder whose finished jobs with the same inputs are copied in first (e.g. its trainings, to compare other soups.methods without training again).",
        };
        var executor = new Option<string?>("--executor")
        {
            Description = "local (child processes here) or slurm (one Slurm job per job, ordered by dependencies; docs/cluster.md). Default: the configuration's executor.kind, else local.",
        };
        executor.AcceptOnlyFromAmong("local", "slurm");
        var wait = new Option<bool>("--wait")
        {
            Description = "With --executor slurm: stay, show progress until every job is done, then write results and report here (else a last Slurm job writes them).",
        };
        var command = new Command("run", "Run a rewarded-soups experiment: pre-train, experts, MORL baseline, soups, evaluations, results and report.")
        {
            config, output, jobs, reuse, executor, wait,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            int? at = parsed.GetValue(jobs);
            if (at is < 0 or > ConfigLimits.MaxParallelism) throw new SoupInputException($"--jobs: must be in [0, {ConfigLimits.MaxParallelism}], got {at}");
            // Fully checked (limits, every key) before anything is created; its name is a plain folder name.
            ExperimentConfig cfg = ExperimentConfig.Load(ResolveConfig(parsed.GetValue(config)!), Families.Catalogue);
            string dir = parsed.GetValue(output) ?? Path.Combine("runs", cfg.Name);
            ExecutorKind kind = parsed.GetValue(executor) switch
            {
                "slurm" => ExecutorKind.Slurm,
                "local" => ExecutorKind.Local,
                _ => cfg.Executor.Kind,
            };
            if (parsed.GetValue(wait) && kind != ExecutorKind.Slurm) throw new SoupInputException("--wait: only with --executor slurm (a local run always waits)");
            if (kind == ExecutorKind.Slurm) ExecuteSlurm(context, cfg, dir, at, parsed.GetValue(reuse), parsed.GetValue(wait));
            else Execute(context, cfg, dir, at, parsed.GetValue(reuse));
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>Runs (or resumes) an experiment, then writes results and report and prints the summary.</summary>
    public static ExperimentResults Execute(CommandContext context, ExperimentConfig cfg, string dir, int? jobs, string? reuse = null)
    {
        // The configuration's task and rewards were checked when it was read (ExperimentConfig.Load).
        // One soup run per folder at a time: a second is refused naming the first's PID (a dead one's lock is taken over).
        using FolderLock runLock = FolderLock.Acquire(dir, "run folder");
        ExperimentPlan plan = ExperimentRunner.Prepare(cfg, dir);
        if (reuse is not null) context.Error.WriteLine($"{ExperimentRunner.Reuse(plan, reuse)} finished jobs copied from {reuse}");
        var clock = Stopwatch.StartNew();
        try
        {
            ExperimentRunner.Run(plan, (job, threads, cancel) => Launch(plan, job, threads, cancel), jobs ?? cfg.Parallelism, line => context.Error.WriteLine(line), context.Cancel);
        }
        catch (JobFailedException e)
        {
            throw new SoupRunException(e.Message);
        }
        context.Error.WriteLine($"all jobs done in {clock.Elapsed.TotalMinutes:F1} min");
        return WriteResults(context, plan);
    }

    /// <summary>How often <c>--wait</c> asks Slurm how the run goes.</summary>
    private static readonly TimeSpan SlurmPoll = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Submits what is neither done nor alive in Slurm (docs/cluster.md); with <paramref name="wait"/>, stays until
    /// every job is done and writes results and report, else leaves that to a last Slurm job.
    /// </summary>
    public static void ExecuteSlurm(CommandContext context, ExperimentConfig cfg, string dir, int? jobs, string? reuse, bool wait)
    {
        SlurmClient client = SlurmClient.Find();   // before anything is created
        ExperimentPlan plan;
        SlurmExecutor executor;
        using (FolderLock.Acquire(dir, "run folder"))
        {
            plan = ExperimentRunner.Prepare(cfg, dir);
            if (reuse is not null) context.Error.WriteLine($"{ExperimentRunner.Reuse(plan, reuse)} finished jobs copied from {reuse}");
            // The same compute threads as a local run of this configuration gives each job: the same numbers.
            int slots = jobs ?? (cfg.Parallelism > 0 ? cfg.Parallelism : Environment.ProcessorCount);
            string soup = typeof(RunCommand).Assembly.Location, runDir = Path.GetFullPath(plan.RunDir);
            executor = new SlurmExecutor(plan, cfg.Executor, client,
                job => job is null ? ["dotnet", soup, "report", runDir] : ["dotnet", soup, "job", runDir, job.Id]);
            executor.Submit(job => plan.StartThreads(job, slots), report: !wait, line => context.Error.WriteLine(line));
        }
        if (!wait)
        {
            context.Out.WriteLine($"submitted; follow it with: soup status {dir}");
            return;
        }
        var clock = Stopwatch.StartNew();
        try
        {
            if (context.ErrorIsTerminal)
            {
                IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                console.Progress().AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        ProgressTask task = ctx.AddTask("submitted", maxValue: plan.Jobs.Count);
                        executor.Wait(c =>
                        {
                            task.Description = c.ToString();
                            task.Value = c.Done;
                        }, SlurmPoll, context.Cancel);
                    });
            }
            else executor.Wait(c => context.Error.WriteLine(c.ToString()), SlurmPoll, context.Cancel);
        }
        catch (JobFailedException e)
        {
            throw new SoupRunException(e.Message);
        }
        catch (OperationCanceledException)
        {
            context.Error.WriteLine($"stopped waiting; the jobs go on in Slurm (soup status {dir}; soup cancel {dir})");
            throw;
        }
        context.Error.WriteLine($"all jobs done in {clock.Elapsed.TotalMinutes:F1} min");
        WriteResults(context, plan);
    }

    public static Command CreateStatus(CommandContext context)
    {
        var runDir = new Argument<string>("run-dir") { Description = "A run folder (local or Slurm)." };
        var json = new Option<bool>("--json") { Description = "Print the status as JSON." };
        var command = new Command("status", "Each job's state (done, running, queued, failed, cancelled, interrupted, not started), its Slurm job and log; a one-line summary.")
        {
            runDir, json,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            ExperimentPlan plan = ExperimentRunner.Open(parsed.GetValue(runDir)!, Families.Catalogue);
            bool submitted = File.Exists(SlurmExecutor.SubmittedPath(plan.RunDir));
            if (submitted && !SlurmClient.Available)
                throw new SoupInputException($"{plan.RunDir} ran on Slurm, and 'squeue' is not on PATH here: run soup status where Slurm's commands are");
            RunStatusReport status = RunStatus.Read(plan, submitted ? SlurmClient.Find() : null);
            if (parsed.GetValue(json))
            {
                context.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(status, new System.Text.Json.JsonSerializerOptions
                {
                    WriteIndented = true,
                    PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
                }));
                return ExitCodes.Success;
            }
            int width = Math.Max(6, status.Jobs.Max(j => j.Id.Length));
            context.Out.WriteLine($"{"job".PadRight(width)}  {"state",-11}  {"slurm",-8}  log");
            foreach (JobStatus j in status.Jobs)
            {
                string slurm = j.SlurmJob is null ? "-" : j.SlurmJob;
                context.Out.WriteLine($"{j.Id.PadRight(width)}  {j.State,-11}  {slurm,-8}  {(j.State == "done" || !File.Exists(j.Log) ? "" : j.Log)}");
                foreach (string line in j.LogTail) context.Out.WriteLine($"{"".PadRight(width)}    | {line}");
            }
            if (status.ReportJob is not null) context.Out.WriteLine($"results and report: Slurm job {status.ReportJob}{(status.ReportState is null ? "" : $" ({status.ReportState})")}");
            context.Out.WriteLine(status.Summary);
            return ExitCodes.Success;
        }));
        return command;
    }

    public static Command CreateCancel(CommandContext context)
    {
        var runDir = new Argument<string>("run-dir") { Description = "A run folder submitted with --executor slurm." };
        var command = new Command("cancel", "Cancel the run's live Slurm jobs (only those soup run submitted for it).") { runDir };
        command.SetAction(parsed => context.Run(() =>
        {
            string dir = parsed.GetValue(runDir)!;
            if (!File.Exists(SlurmExecutor.SubmittedPath(dir))) throw new SoupInputException($"{dir}: nothing was submitted to Slurm for this folder (no {Path.Combine(SlurmExecutor.Folder, SlurmExecutor.SubmittedFile)})");
            IReadOnlyList<string> cancelled = SlurmExecutor.Cancel(dir, SlurmClient.Find());
            context.Out.WriteLine(cancelled.Count == 0 ? "no live Slurm job to cancel" : $"cancelled {cancelled.Count} Slurm jobs: {string.Join(' ', cancelled)}");
            return ExitCodes.Success;
        }));
        return command;
    }

    public static ExperimentResults WriteResults(CommandContext context, ExperimentPlan plan)
    {
        ExperimentResults results = ResultsBuilder.Build(plan, Families.Catalogue.Family(plan.Config.Task));
        ResultsBuilder.Write(plan, results);
        var logs = plan.Jobs.Where(j => j.Kind == JobKind.Train)
            .Select(j => (j.Id, Path.Combine(plan.JobDir(j), Learning.TrainingRun.LogFile))).ToList();
        ReportFiles report = ExperimentReport.Write(results, logs, plan.RunDir);
        context.Out.WriteLine(ExperimentReport.SummaryTable(results));
        context.Out.WriteLine($"results: {Path.GetFullPath(Path.Combine(plan.RunDir, ResultsBuilder.ResultsFile))}");
        context.Out.WriteLine($"report:  {Path.GetFullPath(report.Html)}");
        return results;
    }

    public static Command CreateJob(CommandContext context)
    {
        var runDir = new Argument<string>("run-dir") { Description = "A run folder prepared by soup run." };
        var jobId = new Argument<string>("job-id") { Description = "The job to run (e.g. s1-expert-2)." };
        var command = new Command("job", "Run one job of a prepared experiment (what soup run starts for each job; usable by a cluster scheduler).")
        {
            runDir, jobId,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            ExperimentPlan plan = ExperimentRunner.Open(parsed.GetValue(runDir)!, Families.Catalogue);
            Job job = plan.Get(parsed.GetValue(jobId)!);
            // Compute threads: as many as the run gave this job (SOUP_JOB_THREADS), else what a run on this machine
            // would give it; a job that started before keeps its count (JobRunner.Run).
            string? given = Environment.GetEnvironmentVariable(ThreadsVariable);
            int threads = int.TryParse(given, out int t) && t >= 1 ? Math.Min(t, 1024)
                : plan.StartThreads(job, plan.Config.Parallelism > 0 ? plan.Config.Parallelism : Environment.ProcessorCount);
            // Under Slurm, USR1 comes ahead of the time limit (--signal=B:USR1@N) or from scancel --signal=USR1: stop at
            // once (a training's last update is checkpointed), requeue this Slurm job, and exit; it resumes when it runs again.
            string? slurmJob = Environment.GetEnvironmentVariable("SLURM_JOB_ID");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.Cancel);
            bool requeue = false;
            using System.Runtime.InteropServices.PosixSignalRegistration? usr1 = slurmJob is null ? null
                : System.Runtime.InteropServices.PosixSignalRegistration.Create((System.Runtime.InteropServices.PosixSignal)SigUsr1, ctx =>
                {
                    ctx.Cancel = true;
                    requeue = true;
                    stop.Cancel();
                });
            try
            {
                JobRunner.Run(plan, job, Families.Catalogue, line => context.Error.WriteLine(line), stop.Token, threads, TorchSharp.torch.set_num_threads);
            }
            catch (OperationCanceledException) when (requeue)
            {
                context.Error.WriteLine($"{job.Id}: stopped by USR1 (time limit near or preemption); requeueing Slurm job {slurmJob}");
                var start = new ProcessStartInfo("scontrol") { RedirectStandardError = true };
                foreach (string a in new[] { "requeue", slurmJob! }) start.ArgumentList.Add(a);
                using Process p = Process.Start(start)!;
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) throw new SoupRunException($"{job.Id}: scontrol requeue {slurmJob} failed: {err.Trim()}; run soup run again to resubmit it");
                return ExitCodes.Success;
            }
            context.Out.WriteLine($"{job.Id} done");
            return ExitCodes.Success;
        }));
        return command;
    }

    public static Command CreateReport(CommandContext context)
    {
        var runDir = new Argument<string>("run-dir") { Description = "A finished run folder." };
        var command = new Command("report", "Rebuild results.json, the CSV copies and report.html (with PNG figures) of a finished run.") { runDir };
        command.SetAction(parsed => context.Run(() =>
        {
            ExperimentPlan plan = ExperimentRunner.Open(parsed.GetValue(runDir)!, Families.Catalogue);
            Job? missing = plan.Jobs.FirstOrDefault(j => !plan.IsDone(j));
            if (missing is not null) throw new SoupInputException($"{plan.RunDir}: job '{missing.Id}' has not finished; run 'soup run' on the same configuration and folder to finish it");
            WriteResults(context, plan);
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>A path, or the name of a configuration shipped beside soup.dll (<c>configs/NAME.yaml</c>).</summary>
    /// <summary>How to name a resolved configuration to a user: "built-in 'demo' (configs/demo.yaml)" for one shipped with
    /// soup (its copy under the build folder means nothing to them), the path as given otherwise.</summary>
    public static string DescribeConfig(string nameOrPath, string resolved) =>
        resolved == nameOrPath ? resolved : $"built-in '{Path.GetFileNameWithoutExtension(resolved)}' (configs/{Path.GetFileName(resolved)})";

    public static string ResolveConfig(string nameOrPath)
    {
        if (File.Exists(nameOrPath)) return nameOrPath;
        string builtIn = Path.Combine(AppContext.BaseDirectory, "configs", nameOrPath.EndsWith(".yaml", StringComparison.Ordinal) ? nameOrPath : nameOrPath + ".yaml");
        if (File.Exists(builtIn)) return builtIn;
        string[] names = Directory.Exists(Path.Combine(AppContext.BaseDirectory, "configs"))
            ? Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "configs"), "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)).ToArray()
            : [];
        throw new SoupInputException($"{nameOrPath}: no such configuration file, nor a built-in one (built-in: {string.Join(", ", names)})");
    }

    /// <summary>Starts <c>soup job RUN_DIR ID</c> as a child process, its output in the job's folder.</summary>
    private static async Task<int> Launch(ExperimentPlan plan, Job job, int threads, CancellationToken cancel)
    {
        Directory.CreateDirectory(plan.JobDir(job));
        string logPath = Path.Combine(plan.JobDir(job), ExperimentRunner.JobLog);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        // Reproducible MKL results across processes (see scripts/common.sh), whoever started us.
        if (!start.Environment.TryGetValue("MKL_CBWR", out string? cbwr) || string.IsNullOrEmpty(cbwr)) start.Environment["MKL_CBWR"] = "AUTO,STRICT";
        // Threads per job: the run's share (see ExperimentRunner.Run), unless the user fixed it (SOUP_JOB_THREADS=1
        // suits a machine other work also loads, where libtorch's spinning workers oversubscribe the cores).
        if (!start.Environment.TryGetValue(ThreadsVariable, out string? fixedThreads) || string.IsNullOrEmpty(fixedThreads))
            start.Environment[ThreadsVariable] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string a in new[] { typeof(RunCommand).Assembly.Location, "job", Path.GetFullPath(plan.RunDir), job.Id }) start.ArgumentList.Add(a);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start a job process");
        await using var log = new StreamWriter(logPath, append: true) { AutoFlush = true }; // job.log can be followed live
        Task pumpOut = Pump(process.StandardOutput, log);
        Task pumpErr = Pump(process.StandardError, log);
        try
        {
            await process.WaitForExitAsync(cancel);
        }
        catch (OperationCanceledException)
        {
            // Interrupted: stop the job; its outputs are atomic, so it resumes cleanly next time.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
        await Task.WhenAll(pumpOut, pumpErr);
        return process.ExitCode;
    }

    private static async Task Pump(StreamReader reader, StreamWriter log)
    {
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            lock (log) log.WriteLine(line);
        }
    }
}

/// <summary>A job of the run failed: not the user's input, exit status 1.</summary>
public sealed class SoupRunException(string message) : IOException(message);
