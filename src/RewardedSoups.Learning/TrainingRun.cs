using System.Globalization;
using System.Text;
using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using TorchSharp;

namespace RewardedSoups.Learning;

/// <summary>What one training job is: a task, a reward, a budget, a seed, and optionally a parent policy.</summary>
/// <param name="Task">Environment name.</param>
/// <param name="Reward">The reward trained on (a named reward, or a MORL scalarisation).</param>
/// <param name="Steps">Environment steps of this training (rounded up to whole rollouts).</param>
/// <param name="Seed">Seed of everything random in it.</param>
/// <param name="Init">Policy checkpoint to fine-tune from (its observation normaliser is frozen), or null to start from scratch.</param>
/// <param name="Ppo">PPO settings.</param>
public sealed record TrainingSpec(string Task, RewardFunction Reward, long Steps, int Seed, string? Init, PpoSettings Ppo);

/// <summary>What a finished (or already finished) training left behind.</summary>
public sealed record TrainingResult(string PolicyPath, int Updates, long Steps, UpdateLog? Last, bool Resumed);

/// <summary>
/// One training job in its own folder, files in and files out, resumable after a kill:
/// <list type="bullet">
/// <item><c>settings.json</c>: the resolved spec; a later run in the folder must ask for the same.</item>
/// <item><c>checkpoint.safetensors</c>: everything the next update depends on (policy, normaliser, Adam,
/// reward scaler, random state, progress, episode returns so far and, for an <see cref="IResumableEnv"/>,
/// every environment's simulator state, episode counter and noise stream), rewritten atomically after
/// every update.</item>
/// <item><c>policy.safetensors</c>: the policy alone, what soups are made of and what is evaluated;
/// written when the training is complete.</item>
/// <item><c>train_log.csv</c>: one row per update (CleanRL's metric names).</item>
/// </list>
/// A run killed at any moment resumes from the last completed update and, with an <see cref="IResumableEnv"/>
/// (every locomotion task), ends with the policy and log an uninterrupted run would have, to the bit;
/// a finished run is not redone. Checkpoints written before 2026-12-01 lack the environment state and are
/// refused on resume with a line naming the missing tensor (rerun that job's folder).
/// </summary>
public static class TrainingRun
{
    public const string SettingsFile = "settings.json";
    public const string CheckpointFile = "checkpoint.safetensors";
    public const string PolicyFile = "policy.safetensors";
    public const string LogFile = "train_log.csv";

    public static TrainingResult Run(string dir, TrainingSpec spec, Func<int, IVectorEnv> makeEnv, Action<UpdateLog>? onUpdate = null, CancellationToken cancel = default)
    {
        spec.Ppo.Validate();
        if (spec.Steps < 1) throw new SoupInputException($"steps must be ≥ 1, got {spec.Steps}");
        Directory.CreateDirectory(dir);
        string settingsJson = JsonSerializer.Serialize(new
        {
            task = spec.Task,
            reward = new { name = spec.Reward.Name, weights = spec.Reward.Weights },
            steps = spec.Steps,
            seed = spec.Seed,
            init = spec.Init is null ? null : Path.GetFullPath(spec.Init),
            ppo = spec.Ppo,
        }, new JsonSerializerOptions { WriteIndented = true });
        ClaimFolder(dir, settingsJson);

        using IVectorEnv env = makeEnv(spec.Ppo.NumEnvs);
        GaussianPolicy policy;
        RunningMeanStd obsNorm;
        long parentSteps = 0;
        if (spec.Init is not null)
        {
            (policy, obsNorm, PolicyInfo parent) = PolicyCheckpoint.Load(spec.Init, spec.Task);
            if (parent.Hidden != spec.Ppo.Hidden)
                throw new SoupInputException($"{spec.Init}: hidden size {parent.Hidden}, but the training asks for {spec.Ppo.Hidden}");
            obsNorm.Frozen = true; // experts share the init's statistics: a soup of them is a valid policy
            parentSteps = parent.Steps;
        }
        else
        {
            torch.random.manual_seed(spec.Seed);
            policy = new GaussianPolicy(env.ObservationSize, env.ActionSize, spec.Ppo.Hidden);
            obsNorm = new RunningMeanStd(env.ObservationSize);
        }

        using (policy)
        using (var trainer = new PpoTrainer(env, spec.Reward, spec.Ppo, spec.Seed, policy, obsNorm))
        {
            string checkpointPath = Path.Combine(dir, CheckpointFile);
            string logPath = Path.Combine(dir, LogFile);
            bool resumed = File.Exists(checkpointPath);
            if (resumed)
            {
                using Checkpoint c = Checkpoint.Open(checkpointPath);
                trainer.RestoreState(c);
            }
            TruncateLog(logPath, trainer.Update, string.Join(",", LogColumns.Concat(env.RewardTerms.Select(t => "terms/" + t))));
            int numUpdates = (int)((spec.Steps + spec.Ppo.BatchSize - 1) / spec.Ppo.BatchSize);
            string policyPath = Path.Combine(dir, PolicyFile);
            PolicyInfo Info() => new(spec.Task, env.ObservationSize, env.ActionSize, spec.Ppo.Hidden, spec.Reward,
                parentSteps + trainer.GlobalStep, spec.Seed, spec.Init is null ? null : Path.GetFullPath(spec.Init));
            UpdateLog? last = null;
            if (trainer.Update < numUpdates)
            {
                trainer.Train(spec.Steps, log =>
                {
                    last = log;
                    AppendLog(logPath, log);
                    var metadata = PolicyCheckpoint.Metadata(Info());
                    metadata["rs.kind"] = "training";
                    metadata["rs.settings"] = settingsJson;
                    TrainedCheckpoint.Write(checkpointPath, trainer.StateTensors(), metadata);
                    onUpdate?.Invoke(log);
                }, cancel);
            }
            // The policy file is the job's product: written once training is complete (the checkpoint
            // already holds the policy for resuming), or when a finished run lost it.
            if (last is not null || !File.Exists(policyPath))
                PolicyCheckpoint.Save(policyPath, policy, obsNorm, Info());
            return new TrainingResult(policyPath, trainer.Update, trainer.GlobalStep, last, resumed);
        }
    }

    private static readonly string[] LogColumns =
    [
        "update", "global_step", "charts/episodic_return", "charts/episodes", "losses/policy_loss", "losses/value_loss",
        "losses/entropy", "losses/approx_kl", "losses/clipfrac", "losses/explained_variance", "charts/learning_rate",
        "perf/steps_per_s", "events/invalid_episodes", "perf/rollout_s", "perf/optimise_s",
    ];

    /// <summary>Keeps the header and the rows of updates ≤ <paramref name="update"/> (rows written after the last checkpoint are redone).</summary>
    /// <summary>
    /// Claims a job folder for a training: a new folder records <paramref name="settingsJson"/> in
    /// <c>settings.json</c>; a folder that holds other settings is refused (resuming needs the same ones).
    /// </summary>
    internal static void ClaimFolder(string dir, string settingsJson)
    {
        string settingsPath = Path.Combine(dir, SettingsFile);
        if (File.Exists(settingsPath))
        {
            if (File.ReadAllText(settingsPath) != settingsJson)
                throw new SoupInputException($"{dir}: holds a training with other settings ({settingsPath}); use another folder or the same settings");
        }
        else
        {
            AtomicOutput.WriteAllText(settingsPath, settingsJson);
        }
    }

    internal static void TruncateLog(string path, int update, string header)
    {
        var lines = new List<string> { header };
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path).Skip(1))
            {
                string first = line.Split(',', 2)[0];
                if (int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out int u) && u <= update) lines.Add(line);
            }
        }
        AtomicOutput.WriteAllText(path, string.Join("\n", lines) + "\n");
    }

    private static void AppendLog(string path, UpdateLog log)
    {
        var row = new StringBuilder();
        row.AppendJoin(",", new object[]
        {
            log.Update, log.GlobalStep, log.EpisodicReturn, log.Episodes, log.PolicyLoss, log.ValueLoss, log.Entropy,
            log.ApproxKl, log.ClipFraction, log.ExplainedVariance, log.LearningRate, log.StepsPerSecond, log.InvalidEpisodes,
            log.RolloutSeconds, log.OptimiseSeconds,
        }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)));
        foreach (double t in log.TermMeans) row.Append(',').Append(t.ToString("G6", CultureInfo.InvariantCulture));
        File.AppendAllText(path, row.Append('\n').ToString());
    }
}
