using System.Text.Json;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Soup;

namespace RewardedSoups.Runner;

/// <summary>Evaluation of one policy: per expert reward, the return of every episode (all evaluation seeds).</summary>
public sealed record EvalFile(IReadOnlyList<string> Rewards, double[][] Returns, int Episodes);

/// <summary>
/// Runs one job in this process: files in, files out, then <c>job.json</c>. Jobs are independent
/// so that a cluster scheduler could run them (<c>soup job RUN_DIR JOB_ID</c>).
/// </summary>
public static class JobRunner
{
    public const string EvalFileName = "eval.json";

    public static void Run(ExperimentPlan plan, Job job, ITaskProvider tasks, Action<string>? log = null, CancellationToken cancel = default)
    {
        foreach (string dep in job.DependsOn)
            if (!plan.IsDone(plan.Get(dep)))
                throw new SoupInputException($"job '{job.Id}' needs job '{dep}', which has not finished");
        Directory.CreateDirectory(plan.JobDir(job));
        ExperimentConfig c = plan.Config;
        switch (job.Kind)
        {
            case JobKind.Train:
                RewardFunction reward = job.Role switch
                {
                    "init" => Resolve(tasks, c.Task, c.PretrainReward),
                    "expert" => Resolve(tasks, c.Task, c.Experts[job.Expert!.Value]),
                    _ => RewardFunction.Scalarise(c.Experts.Select(e => Resolve(tasks, c.Task, e)).ToList(), job.Weights!),
                };
                string? init = job.Role == "init" ? null : plan.PolicyPath(plan.Get($"s{job.Seed}-init"));
                long steps = job.Role == "init" ? c.PretrainSteps : c.ExpertSteps;
                var spec = new TrainingSpec(c.Task, reward, steps, job.Seed, init, c.Ppo);
                int total = (int)((steps + c.Ppo.BatchSize - 1) / c.Ppo.BatchSize);
                TrainingRun.Run(plan.JobDir(job), spec, n => tasks.Create(c.Task, n), u =>
                {
                    if (u.Update == total || u.Update % Math.Max(1, total / 5) == 0)
                        log?.Invoke($"{job.Id}: update {u.Update}/{total}, return {u.EpisodicReturn:F1}");
                }, cancel);
                break;
            case JobKind.Soup:
                var experts = job.DependsOn.Select(id => plan.PolicyPath(plan.Get(id))).ToList();
                LinearSoup.Merge(new SoupRequest(experts, job.Weights, plan.PolicyPath(job), Threads: 1), cancel: cancel);
                break;
            case JobKind.Eval:
                Evaluate(plan, job, tasks);
                break;
        }
        plan.MarkDone(job);
    }

    public static RewardFunction Resolve(ITaskProvider tasks, string task, RewardSpec spec) =>
        spec.Terms is null ? tasks.NamedReward(task, spec.Name) : new RewardFunction(spec.Name, spec.Terms);

    private static void Evaluate(ExperimentPlan plan, Job job, ITaskProvider tasks)
    {
        ExperimentConfig c = plan.Config;
        var rewards = c.Experts.Select(e => Resolve(tasks, c.Task, e)).ToList();
        (GaussianPolicy policy, RunningMeanStd norm, _) = PolicyCheckpoint.Load(plan.PolicyPath(plan.Get(job.Policy!)), c.Task);
        var returns = rewards.Select(_ => new List<double>()).ToList();
        using (policy)
        {
            foreach (int seed in c.EvaluationSeeds)
            {
                using IVectorEnv env = tasks.Create(c.Task, c.Episodes);
                List<EpisodeResult> episodes = PolicyEvaluation.Run(policy, norm, env, seed);
                List<RewardEstimate> estimates = PolicyEvaluation.Estimate(episodes, env.RewardTerms, rewards);
                for (int i = 0; i < rewards.Count; i++) returns[i].AddRange(estimates[i].Episodes);
            }
        }
        var file = new EvalFile(rewards.Select(r => r.Name).ToList(), returns.Select(r => r.ToArray()).ToArray(), returns[0].Count);
        Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.JobDir(job), EvalFileName), JsonSerializer.Serialize(file));
    }

    public static EvalFile ReadEval(ExperimentPlan plan, Job evalJob)
    {
        string path = Path.Combine(plan.JobDir(evalJob), EvalFileName);
        return JsonSerializer.Deserialize<EvalFile>(File.ReadAllText(path))
               ?? throw new SoupInputException($"{path}: empty evaluation file");
    }
}
