using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RewardedSoups.Environments;
using RewardedSoups.Learning;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup eval POLICY</c>: every reward's mean return with its 95% interval. A job folder (a trained init,
/// expert or soup of any family) is evaluated through <see cref="Tasks.ITaskFamily.Evaluate"/>, the call a run's
/// eval jobs make (<c>--task</c>; <c>--init</c> for the families whose policies need their init, text and images).
/// A locomotion policy file (a <c>soup merge</c> output, say) is rolled out directly, with the task from its
/// metadata and the per-term diagnostics only locomotion has.
/// </summary>
public static class EvalCommand
{
    public static Command Create(CommandContext context)
    {
        var policyPath = new Argument<string>("policy") { Description = "A job folder of any task (with --task), or a locomotion policy file (policy.safetensors, or a soup of policies)." };
        var task = new Option<string?>("--task") { Description = $"Task of a job folder: {string.Join(", ", Families.TaskNames)}." };
        var init = new Option<string?>("--init") { Description = "The shared init's training folder (text and image policies are evaluated on it)." };
        Option<string[]> set = SettingsOptions.Create();
        var episodes = new Option<int>("--episodes") { Description = "Episodes (run side by side).", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Seed of the episodes' initial states.", DefaultValueFactory = _ => 12345 };
        var rewards = new Option<string[]>("--reward")
        {
            Description = "Rewards to report (names or weighted terms); default: the task's named rewards and the policy's own.",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        // One libtorch thread by default, as every job of a run: a policy's outputs differ in their last bits between
        // thread counts, and a humanoid that may fall turns that into other returns (7655.15 with 1, 7661.23 with 2).
        var threads = TorchThreadsOption.Create("Threads for libtorch (1, as a run's evaluation jobs, gives their numbers).");
        var command = new Command("eval", "Evaluate a policy deterministically (mean action) over episodes; report each reward's mean return and 95% interval.")
        {
            policyPath, task, init, set, episodes, seed, rewards, json, threads,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            string path = parsed.GetValue(policyPath)!;
            int n = parsed.GetValue(episodes);
            if (n < 1) throw new SoupInputException($"--episodes must be ≥ 1, got {n}");
            TorchThreadsOption.Apply(parsed, threads);
            if (Directory.Exists(path))
                return EvaluateFolder(context, path, parsed.GetValue(task), parsed.GetValue(init), parsed.GetValue(set), parsed.GetValue(rewards) ?? [], n, parsed.GetValue(seed), parsed.GetValue(json));
            if (parsed.GetValue(task) is not null || parsed.GetValue(init) is not null || (parsed.GetValue(set) ?? []).Length > 0)
                throw new SoupInputException($"{path}: --task, --init and --set are for a job folder; a policy file names its task");
            (GaussianPolicy policy, RunningMeanStd norm, PolicyInfo info) = PolicyCheckpoint.Load(path);
            using (policy)
            {
                string task = Families.CheckLocomotion(info.Task);
                var chosen = new List<RewardFunction>();
                string[] asked = parsed.GetValue(rewards) ?? [];
                if (asked.Length > 0) chosen.AddRange(asked.Select(r => Families.Catalogue.ParseReward(task, r)));
                else
                {
                    chosen.AddRange(Families.Catalogue.Family(task).NamedRewards(task));
                    if (info.Reward is not null && chosen.All(r => r.Name != info.Reward.Name)) chosen.Add(info.Reward);
                }
                using IVectorEnv env = Families.Create(task, n);
                List<EpisodeResult> results = PolicyEvaluation.Run(policy, norm, env, parsed.GetValue(seed));
                List<RewardEstimate> estimates = PolicyEvaluation.Estimate(results, env.RewardTerms, chosen);
                if (parsed.GetValue(json))
                {
                    var doc = new
                    {
                        policy = path,
                        task,
                        episodes = n,
                        seed = parsed.GetValue(seed),
                        interval = "95% Student-t",
                        rewards = estimates.Select(e => new { name = e.Reward, mean = e.Return.Mean, low = e.Return.Low, high = e.Return.High, std = e.Return.StdDev, returns = e.Episodes }),
                        terms = env.RewardTerms.Select((t, k) => new { name = t, mean_per_episode = results.Average(r => r.TermSums[k]) }),
                        mean_length = results.Average(r => r.Length),
                        terminated = results.Count(r => r.Terminated),
                        invalid_episodes = env.InvalidEpisodes,
                    };
                    context.Out.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
                    return ExitCodes.Success;
                }
                context.Out.WriteLine($"{path}: task {task}, {n} episodes, mean length {results.Average(r => r.Length):F0}, {results.Count(r => r.Terminated)} terminated early");
                foreach (RewardEstimate e in estimates)
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {e.Reward,-24} {e.Return.Mean,10:F1}  95% CI [{e.Return.Low:F1}, {e.Return.High:F1}]"));
                for (int k = 0; k < env.RewardTerms.Count; k++)
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  term {env.RewardTerms[k],-19} {results.Average(r => r.TermSums[k]),10:F2} per episode"));
                return ExitCodes.Success;
            }
        }));
        return command;
    }

    /// <summary>A job folder of any family, through its <see cref="Tasks.ITaskFamily.Evaluate"/>: the rewards' means and intervals over the episodes.</summary>
    private static int EvaluateFolder(CommandContext context, string dir, string? task, string? init, string[]? set, string[] asked, int episodes, int seed, bool json)
    {
        if (task is null) throw new SoupInputException($"{dir}: a job folder; give its --task ({string.Join(", ", Families.Catalogue.Tasks)})");
        Tasks.ITaskFamily family = Families.Catalogue.Family(task);
        Tasks.ISettingsSection settings = SettingsOptions.Read(family, task, new System.Text.Json.Nodes.JsonObject(), set);
        IReadOnlyList<RewardFunction> chosen = asked.Length > 0 ? asked.Select(r => Families.Catalogue.ParseReward(task, r)).ToList() : family.NamedRewards(task);
        string initDir = init ?? dir;   // locomotion needs no init; an init folder evaluates itself
        Tasks.EvalFile eval = family.Evaluate(new Tasks.EvalJobSpec(task, dir, initDir, chosen, episodes, [seed], settings), context.Cancel);
        var intervals = eval.Returns.Select(r => Statistics.MeanInterval.Of(r)).ToList();
        var measures = (eval.Measures ?? new Dictionary<string, double[]>()).OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => (Name: m.Key, Values: m.Value, Interval: Statistics.MeanInterval.Of(m.Value))).ToList();
        if (json)
        {
            var doc = new
            {
                policy = dir,
                task,
                episodes,
                seed,
                interval = "95% Student-t",
                rewards = eval.Rewards.Select((name, i) => new { name, mean = intervals[i].Mean, low = intervals[i].Low, high = intervals[i].High, std = intervals[i].StdDev, returns = eval.Returns[i] }),
                // What the family measures beside the rewards (images: recognised by the independent checker).
                measures = measures.Select(m => new { name = m.Name, mean = m.Interval.Mean, low = m.Interval.Low, high = m.Interval.High, values = m.Values }),
            };
            context.Out.WriteLine(Numerics.FiniteJson.Serialize(doc, $"{dir}: evaluation", new JsonSerializerOptions { WriteIndented = true }));
            return ExitCodes.Success;
        }
        context.Out.WriteLine($"{dir}: task {task}, {eval.Episodes} {(family.Name == "locomotion" ? "episodes" : "samples")} ({family.Name} evaluation, seed {seed})");
        for (int i = 0; i < eval.Rewards.Count; i++)
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {eval.Rewards[i],-24} {intervals[i].Mean,10:G6}  95% CI [{intervals[i].Low:G6}, {intervals[i].High:G6}]"));
        foreach (var m in measures)
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {"measure " + m.Name,-24} {m.Interval.Mean,10:G6}  95% CI [{m.Interval.Low:G6}, {m.Interval.High:G6}]"));
        return ExitCodes.Success;
    }
}
