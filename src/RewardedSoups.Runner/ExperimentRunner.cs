using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Jobs;
using RewardedSoups.Tasks;

namespace RewardedSoups.Runner;

/// <summary>
/// Runs an experiment's plan in a run folder: every job whose inputs changed or that never finished,
/// at most <c>parallelism</c> at once, each through <c>launch</c> (the command line starts
/// <c>soup job RUN_DIR JOB_ID</c> as a child process, so jobs are isolated and could go to a cluster).
/// Finished jobs are skipped; a killed run resumes where it stopped. The first failed job stops
/// launching new ones; running ones finish; the error names the job and its log.
/// </summary>
public static class ExperimentRunner
{
    /// <summary>Prepares the folder: a new one gets the resolved configuration; an existing one must hold the same.</summary>
    public static ExperimentPlan Prepare(ExperimentConfig config, string runDir)
    {
        JobFolder.Claim(runDir, ExperimentPlan.ConfigJson(config), settingsFile: ExperimentPlan.ResolvedConfigFile,
            conflict: resolved => $"{runDir}: holds a run of another configuration ({resolved}); choose a new folder to run this one");
        return ExperimentPlan.Create(config, runDir);
    }

    /// <summary>Re-opens a prepared run folder; its family reads the settings section back into their record.</summary>
    public static ExperimentPlan Open(string runDir, TaskCatalogue tasks)
    {
        string resolved = Path.Combine(runDir, ExperimentPlan.ResolvedConfigFile);
        if (!File.Exists(resolved)) throw new SoupInputException($"{runDir}: not a run folder (no {ExperimentPlan.ResolvedConfigFile})");
        // A run folder may come from anyone (soup serve, soup report): its file is read as bounded as a configuration is.
        long bytes = new FileInfo(resolved).Length;
        if (bytes > ConfigLimits.MaxResolvedBytes)
            throw new SoupInputException($"{resolved}: {bytes} bytes; a resolved configuration is at most {ConfigLimits.MaxResolvedBytes} bytes");
        ExperimentConfig config;
        try
        {
            JsonObject root = JsonNode.Parse(File.ReadAllText(resolved), documentOptions: new JsonDocumentOptions { MaxDepth = ConfigLimits.MaxDepth }) as JsonObject
                ?? throw new SoupInputException($"{resolved}: not a JSON object");
            config = root.Deserialize<ExperimentConfig>() ?? throw new SoupInputException($"{resolved}: empty");
            var reader = new ConfigReader(resolved);
            JsonObject? section = root["Settings"] is null ? null : reader.Object(root["Settings"], "Settings");
            ITaskFamily family = tasks.Family(config.Task);
            config = config with { Settings = family.ReadSettings(config.Task, section, reader) };
            config = ExperimentConfig.ReadGrids(config, root, reader);
            if (root["SoupMethods"] is not null)
                config = config with { SoupMethods = ExperimentConfig.ReadSoupMethods(reader, reader.Array(root["SoupMethods"], "SoupMethods"), "SoupMethods", config.Experts.Count) };
            ExperimentConfig.CheckResolved(config, reader);
        }
        catch (JsonException e)
        {
            throw new SoupInputException($"{resolved}: not a valid resolved configuration: {e.Message.Split('\n')[0]}");
        }
        return ExperimentPlan.Create(config, runDir);
    }

    /// <summary>
    /// Copies into the plan's run folder every job that <paramref name="fromRunDir"/> finished with the same id
    /// and input key, and that the plan has not done yet: what a changed configuration leaves as it was
    /// (trainings and their evaluations when only <c>soups.methods</c> changed). A job is copied whole into a
    /// temporary folder, then renamed into place, so an interruption leaves it undone, never half there;
    /// only regular files are copied (a symbolic link in the other folder is skipped). Returns how many.
    /// </summary>
    public static int Reuse(ExperimentPlan plan, string fromRunDir)
    {
        string from = Path.GetFullPath(fromRunDir);
        if (from == Path.GetFullPath(plan.RunDir)) throw new SoupInputException($"--reuse: {fromRunDir} is the run folder itself");
        if (!Directory.Exists(Path.Combine(from, "jobs"))) throw new SoupInputException($"--reuse: {fromRunDir}: not a run folder (no jobs/)");
        int copied = 0;
        foreach (Job job in plan.Jobs)
        {
            string source = Path.Combine(from, "jobs", job.Id);
            string marker = Path.Combine(source, JobFolder.MarkerFile);
            if (plan.IsDone(job) || !File.Exists(marker) || new FileInfo(marker).Length > MaxMarkerBytes || !JobFolder.IsFinished(source, job.Key)) continue;
            string target = plan.JobDir(job);
            string staging = Path.Combine(Path.GetDirectoryName(target)!, $".reuse-{job.Id}-{Guid.NewGuid():N}");
            CopyRegularFiles(source, staging);
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);   // an unfinished attempt of this run
            Directory.Move(staging, target);
            copied++;
        }
        return copied;
    }

    /// <summary>Largest <c>job.json</c> marker <see cref="Reuse"/> reads (a marker is a line of JSON).</summary>
    private const int MaxMarkerBytes = 64 * 1024;

    private static void CopyRegularFiles(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (FileSystemInfo entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is not null) continue;
            if (entry is DirectoryInfo dir) CopyRegularFiles(dir.FullName, Path.Combine(target, dir.Name));
            else if (entry is FileInfo file) file.CopyTo(Path.Combine(target, file.Name));
        }
    }

    /// <summary>Runs what is not done; returns how many jobs ran.</summary>
    /// <remarks>
    /// Each job is launched with <see cref="ExperimentPlan.StartThreads"/> compute threads: the inits share
    /// the slots (nothing else can run beside them), every other job gets one (jobs side by side scale better
    /// than threads inside one small model's operations). Never the free slots of the moment: a job's numbers
    /// depend on its thread count, and the moment depends on timing.
    /// </remarks>
    public static int Run(ExperimentPlan plan, Func<Job, int, CancellationToken, Task<int>> launch, int parallelism, Action<string> log, CancellationToken cancel)
    {
        int limit = parallelism > 0 ? parallelism : Environment.ProcessorCount;
        var pending = plan.Jobs.Where(j => !plan.IsDone(j)).ToList();
        var done = new HashSet<string>(plan.Jobs.Where(plan.IsDone).Select(j => j.Id));
        int total = pending.Count, ran = 0;
        log($"{plan.Jobs.Count} jobs, {plan.Jobs.Count - total} already done, {total} to run, {limit} at a time");
        var running = new Dictionary<Task<int>, Job>();
        string? failure = null;
        while ((pending.Count > 0 && failure is null) || running.Count > 0)
        {
            if (failure is null && !cancel.IsCancellationRequested)
            {
                var ready = pending.Where(j => j.DependsOn.All(done.Contains)).ToList();
                int free = limit - running.Count;
                foreach (Job job in ready.Take(free))
                {
                    pending.Remove(job);
                    running.Add(launch(job, plan.StartThreads(job, limit), cancel), job);
                }
            }
            if (running.Count == 0)
            {
                if (cancel.IsCancellationRequested) break;
                if (pending.Count > 0 && failure is null)
                    throw new InvalidOperationException($"no runnable job among {pending.Count} pending: a dependency cycle or a missing job");
                break;
            }
            Task<int> finished = Task.WhenAny(running.Keys).GetAwaiter().GetResult();
            Job finishedJob = running[finished];
            running.Remove(finished);
            int exit = finished.IsCompletedSuccessfully ? finished.Result : -1;
            if (exit == 0 && plan.IsDone(finishedJob))
            {
                done.Add(finishedJob.Id);
                ran++;
                log($"[{ran}/{total}] {finishedJob.Id} done");
            }
            else if (failure is null)
            {
                failure = finished.IsFaulted
                    ? $"job '{finishedJob.Id}' could not be started: {finished.Exception!.InnerException?.Message}"
                    : $"job '{finishedJob.Id}' failed (exit status {exit}){LastError(plan, finishedJob)}; its log: {Path.Combine(plan.JobDir(finishedJob), JobLog)}";
            }
        }
        cancel.ThrowIfCancellationRequested();
        if (failure is not null) throw new JobFailedException(failure);
        return ran;
    }

    /// <summary>The file in a job's folder that holds what its process printed.</summary>
    public const string JobLog = "job.log";

    /// <summary>": " and the last "error: …" line of a job's log (what the job said it died of), or "" when there is none.</summary>
    private static string LastError(ExperimentPlan plan, Job job)
    {
        string path = Path.Combine(plan.JobDir(job), JobLog);
        if (!File.Exists(path)) return "";
        string? line = File.ReadLines(path).LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal));
        return line is null ? "" : ": " + line["error: ".Length..];
    }
}

/// <summary>A job of the experiment failed; the message names it, its error and its log.</summary>
public sealed class JobFailedException(string message) : Exception(message);
