using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RewardedSoups.Environments;
using RewardedSoups.Learning;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup eval POLICY</c>: deterministic rollouts; every reward's mean episode return with its 95% interval.</summary>
public static class EvalCommand
{
    public static Command Create(CommandContext context)
    {
        var policyPath = new Argument<string>("policy") { Description = "A policy checkpoint (policy.safetensors, or a soup of policies)." };
        var episodes = new Option<int>("--episodes") { Description = "Episodes (run side by side).", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Seed of the episodes' initial states.", DefaultValueFactory = _ => 12345 };
        var rewards = new Option<string[]>("--reward")
        {
            Description = "Rewards to report (names or weighted terms); default: the task's named rewards and the policy's own.",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("eval", "Evaluate a policy deterministically (mean action) over episodes; report each reward's mean return and 95% interval.")
        {
            policyPath, episodes, seed, rewards, json,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            string path = parsed.GetValue(policyPath)!;
            int n = parsed.GetValue(episodes);
            if (n < 1) throw new SoupInputException($"--episodes must be ≥ 1, got {n}");
            (GaussianPolicy policy, RunningMeanStd norm, PolicyInfo info) = PolicyCheckpoint.Load(path);
            using (policy)
            {
                string task = Families.CheckLocomotion(info.Task);
                var chosen = new List<RewardFunction>();
                string[] asked = parsed.GetValue(rewards) ?? [];
                if (asked.Length > 0) chosen.AddRange(asked.Select(r => Families.ResolveReward(task, r)));
                else
                {
                    chosen.AddRange(Families.PresetRewards(task));
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
}
