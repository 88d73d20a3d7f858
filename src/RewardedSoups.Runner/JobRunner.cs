using System.Text.Json;
using RewardedSoups.Environments;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.Runner;

/// <summary>
/// Runs one job in this process through the task's family: files in, files out, then <c>job.json</c>.
/// Jobs are independent so that a cluster scheduler could run them (<c>soup job RUN_DIR JOB_ID</c>).
/// </summary>
public static class JobRunner
{
    public const string EvalFileName = "eval.json";

    /// <summary>What an evaluation job writes beside eval.json: the measured seconds of the policy's computation (<see cref="EvalTiming"/>).</summary>
    public const string TimingFileName = "timing.json";

    /// <summary>What an ensemble job writes: its weights and the experts' job ids, in the weights' order.</summary>
    public const string EnsembleFileName = "ensemble.json";

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    /// <summary>The file in a job's folder that holds the compute threads it started with.</summary>
    public const string ThreadsFile = "threads.txt";

    /// <summary>
    /// Runs a job. <paramref name="useThreads"/> is given the job's compute threads before any computation:
    /// those it started with when it ran before (a resumed training, a redone evaluation: the same thread count,
    /// so the same numbers), else <paramref name="threads"/>, recorded for next time.
    /// </summary>
    public static void Run(ExperimentPlan plan, Job job, TaskCatalogue tasks, Action<string>? log = null, CancellationToken cancel = default,
        int threads = 1, Action<int>? useThreads = null)
    {
        foreach (string dep in job.DependsOn)
            if (!plan.IsDone(plan.Get(dep)))
                throw new SoupInputException($"job '{job.Id}' needs job '{dep}', which has not finished");
        // One process per job at a time, whoever started it (soup run, a scheduler, a user's soup job).
        using FolderLock jobLock = FolderLock.Acquire(plan.JobDir(job), $"job '{job.Id}'");
        int started = StartedThreads(plan.JobDir(job)) ?? threads;
        if (started != threads) log?.Invoke($"{job.Id}: {started} compute threads, as when it started (asked {threads})");
        Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.JobDir(job), ThreadsFile), started.ToString(System.Globalization.CultureInfo.InvariantCulture));
        useThreads?.Invoke(started);
        ExperimentConfig c = plan.Config;
        ITaskFamily family = tasks.Family(c.Task);
        string initDir = plan.JobDir(plan.Init(job.Seed));
        switch (job.Kind)
        {
            case JobKind.Train:
                TrainRole role = Role(job);
                RewardFunction? reward = role switch
                {
                    TrainRole.Init => c.PretrainReward,
                    TrainRole.Expert => c.Experts[job.Expert!.Value],
                    _ => RewardFunction.Scalarise(c.Experts, job.Preference!),
                };
                long budget = role == TrainRole.Init ? c.PretrainSteps : c.ExpertSteps;
                family.Train(new TrainJobSpec(c.Task, role, plan.JobDir(job), role == TrainRole.Init ? null : initDir, reward, budget, job.Seed, c.Settings),
                    line => log?.Invoke($"{job.Id}: {line}"), cancel);
                break;
            case JobKind.Soup:
                var experts = Enumerable.Range(0, c.Experts.Count).Select(i => plan.JobDir(plan.Expert(job.Seed, i))).ToList();
                // A λ-search soup learns its λ now, from the evaluations it waited for (the same ones on every run of it).
                Pareto.SearchProposal? proposal = job.Search is null ? null : SearchJobs.Propose(plan, job);
                SoupWeights? lambda = proposal is null ? job.Lambda! : proposal.Lambda is { } l ? SoupWeights.Of(l) : null;
                if (lambda is not null)
                    family.Soup(new SoupJobSpec(c.Task, experts, lambda, job.Mode!, plan.JobDir(job), initDir, c.Settings, c.SoupMethodOf(job.Mode!)), cancel);
                if (proposal is not null)
                {
                    SearchJobs.Write(plan, job, proposal);
                    log?.Invoke(proposal.Lambda is { } p
                        ? $"{job.Id}: λ {ReportFormat(p)} (from {ReportFormat(proposal.From)})"
                        : $"{job.Id}: skipped, {proposal.Skipped}");
                }
                break;
            case JobKind.Ensemble:
                // Nothing to compute: the folder says which experts, with which weights (what soup eval and the results read).
                Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.JobDir(job), EnsembleFileName), JsonSerializer.Serialize(new EnsembleFile(
                    job.Lambda!.ToArray(), Enumerable.Range(0, c.Experts.Count).Select(i => ExperimentPlan.ExpertId(job.Seed, i)).ToList()), IndentedJson));
                break;
            case JobKind.Eval:
                Job policy = plan.Get(job.Policy!);
                // A skipped λ-search proposal has no soup: nothing to evaluate, and results leave it out.
                if (policy.Search is not null && SearchJobs.Read(plan, policy).Lambda is null) break;
                EnsembleSpec? ensemble = policy.Kind == JobKind.Ensemble
                    ? new EnsembleSpec(Enumerable.Range(0, c.Experts.Count).Select(i => plan.JobDir(plan.Expert(job.Seed, i))).ToList(), policy.Lambda!)
                    : null;
                EvalFile eval = family.Evaluate(new EvalJobSpec(c.Task, plan.JobDir(policy), initDir, c.Experts, c.Episodes, c.EvaluationSeeds, c.Settings, ensemble), cancel);
                Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.JobDir(job), EvalFileName), Numerics.FiniteJson.Serialize(eval, $"job '{job.Id}' {EvalFileName}", JsonSerializerOptions.Default));
                // The measured time apart: eval.json stays the same bytes in every run of this job.
                if (eval.Inference is { } cost)
                    Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.JobDir(job), TimingFileName),
                        Numerics.FiniteJson.Serialize(new EvalTiming(cost.Seconds, cost.Samples), $"job '{job.Id}' {TimingFileName}", JsonSerializerOptions.Default));
                break;
        }
        plan.MarkDone(job);
    }

    private static string ReportFormat(double[] w) => ResultsBuilder.Format(w, fine: true);

    /// <summary>The training role of a Train job.</summary>
    public static TrainRole Role(Job job) => job.Role switch
    {
        "init" => TrainRole.Init,
        "expert" => TrainRole.Expert,
        _ => TrainRole.Morl,
    };

    /// <summary>The thread count a job's folder recorded, or null (none, or not a count from 1 to 1024: then the job starts afresh with the one asked).</summary>
    private static int? StartedThreads(string jobDir)
    {
        string path = Path.Combine(jobDir, ThreadsFile);
        if (!File.Exists(path) || new FileInfo(path).Length > 16) return null;
        return int.TryParse(File.ReadAllText(path).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int t) && t is >= 1 and <= 1024 ? t : null;
    }

    /// <summary>The measured time of an evaluation job (null when it wrote none: evaluations made before times were measured).</summary>
    public static EvalTiming? ReadTiming(ExperimentPlan plan, Job evalJob)
    {
        string path = Path.Combine(plan.JobDir(evalJob), TimingFileName);
        if (!File.Exists(path) || new FileInfo(path).Length > 4096) return null;
        try
        {
            return JsonSerializer.Deserialize<EvalTiming>(File.ReadAllText(path)) is { Seconds: >= 0 and < double.PositiveInfinity, Samples: > 0 } t ? t : null;
        }
        catch (JsonException)
        {
            return null;   // a measurement, not a result: an unreadable one is left out of timings.json
        }
    }

    public static EvalFile ReadEval(ExperimentPlan plan, Job evalJob)
    {
        string path = Path.Combine(plan.JobDir(evalJob), EvalFileName);
        return JsonSerializer.Deserialize<EvalFile>(File.ReadAllText(path))
               ?? throw new SoupInputException($"{path}: empty evaluation file");
    }
}

/// <summary>An ensemble job's folder: <paramref name="Weights"/> λ of the experts <paramref name="Experts"/> (job ids of the same training seed).</summary>
public sealed record EnsembleFile(
    [property: System.Text.Json.Serialization.JsonPropertyName("weights")] double[] Weights,
    [property: System.Text.Json.Serialization.JsonPropertyName("experts")] IReadOnlyList<string> Experts);

/// <summary>An evaluation job's measured time: seconds of the policy's own computation over <paramref name="Samples"/> evaluation samples.</summary>
public sealed record EvalTiming(
    [property: System.Text.Json.Serialization.JsonPropertyName("seconds")] double Seconds,
    [property: System.Text.Json.Serialization.JsonPropertyName("samples")] int Samples);
