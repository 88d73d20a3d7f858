using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using RewardedSoups.Jobs;
using RewardedSoups.Tasks;

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
    public const string SettingsFile = JobFolder.SettingsFile;
    public const string CheckpointFile = JobFolder.CheckpointFile;
    public const string PolicyFile = "policy.safetensors";
    public const string LogFile = "train_log.csv";

    public static TrainingResult Run(string dir, TrainingSpec spec, Func<int, IVectorEnv> makeEnv, Action<UpdateLog>? onUpdate = null, CancellationToken cancel = default)
    {
        if (spec.Steps < 1) throw new SoupInputException($"steps must be ≥ 1, got {spec.Steps}");
        string settingsJson = JsonSerializer.Serialize(new
        {
            task = spec.Task,
            reward = new { name = spec.Reward.Name, weights = spec.Reward.Weights },
            steps = spec.Steps,
            seed = spec.Seed,
            init = spec.Init is null ? null : Path.GetFullPath(spec.Init),
            ppo = SettingsSection.ToJson(spec.Ppo),
        }, new JsonSerializerOptions { WriteIndented = true });
        JobFolder folder = JobFolder.Claim(dir, settingsJson, "a training");

        using IVectorEnv env = makeEnv(spec.Ppo.Envs);
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
            policy = TorchRandom.Seeded(spec.Seed, () => new GaussianPolicy(env.ObservationSize, env.ActionSize, spec.Ppo.Hidden));
            obsNorm = new RunningMeanStd(env.ObservationSize);
        }

        using (policy)
        using (var trainer = new PpoTrainer(env, spec.Reward, spec.Ppo, spec.Seed, policy, obsNorm))
        {
            bool resumed = folder.HasCheckpoint;
            if (resumed)
            {
                using Checkpoint c = Checkpoint.Open(folder.CheckpointPath);
                trainer.RestoreState(c);
            }
            CsvLog trainLog = folder.OpenLog(LogFile, LogColumns.Concat(env.RewardTerms.Select(t => "terms/" + t)), trainer.Update);
            int numUpdates = (int)((spec.Steps + spec.Ppo.BatchSize - 1) / spec.Ppo.BatchSize);
            string policyPath = folder.File(PolicyFile);
            PolicyInfo Info() => new(spec.Task, env.ObservationSize, env.ActionSize, spec.Ppo.Hidden, spec.Reward,
                parentSteps + trainer.GlobalStep, spec.Seed, spec.Init is null ? null : Path.GetFullPath(spec.Init));
            UpdateLog? last = null;
            if (trainer.Update < numUpdates)
            {
                trainer.Train(spec.Steps, log =>
                {
                    last = log;
                    AppendLog(trainLog, log);
                    var metadata = PolicyCheckpoint.Metadata(Info());
                    metadata["rs.kind"] = "training";
                    metadata["rs.settings"] = settingsJson;
                    TrainedCheckpoint.Write(folder.CheckpointPath, trainer.StateTensors(), metadata);
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

    /// <summary>One row; an update in which no episode ended has no return (an empty cell, not NaN).</summary>
    private static void AppendLog(CsvLog trainLog, UpdateLog log) => trainLog.Append(new object[]
    {
        log.Update, log.GlobalStep, log.Episodes > 0 ? log.EpisodicReturn : "", log.Episodes, log.PolicyLoss, log.ValueLoss,
        log.Entropy, log.ApproxKl, log.ClipFraction, log.ExplainedVariance, log.LearningRate, log.StepsPerSecond,
        log.InvalidEpisodes, log.RolloutSeconds, log.OptimiseSeconds,
    }.Select(CsvLog.Cell).Concat(log.TermMeans.Select(CsvLog.G6)));
}
