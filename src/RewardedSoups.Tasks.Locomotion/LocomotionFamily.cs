using System.Text.Json.Nodes;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Soup;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// Locomotion as a task family: PPO from scratch for the init (on the pre-training reward), PPO
/// fine-tuning for experts and MORL policies, soups of whole policy files (<c>linear</c>), evaluation
/// by episodes, and a showcase that replays one recorded episode of θ(λ).
/// </summary>
public sealed class LocomotionFamily : ITaskFamily
{
    public string Name => "locomotion";

    public IReadOnlyList<string> Tasks => BuiltInLocomotion.Names;

    public string SettingsKey => "ppo";

    public bool InitUsesReward => true;

    public string CostUnit => "environment steps";

    public string EvaluationUnit => "episodes";

    public string EnsembleCombination => "the Gaussian experts' weighted product, evaluated deterministically: mean action Σ λᵢ μᵢ(s) (each expert on its own normalised observation), precision-weighted per action dimension where the experts' standard deviations differ";

    public IReadOnlyList<string> RewardTerms(string task)
    {
        using IVectorEnv probe = BuiltInLocomotion.Create(task, 1);
        return probe.RewardTerms.ToList();
    }

    public IReadOnlyList<RewardFunction> NamedRewards(string task) => BuiltInLocomotion.RewardNames.Select(BuiltInLocomotion.Reward).ToList();

    /// <summary>The <c>ppo</c> section: <see cref="PpoSettings"/>, every key of it.</summary>
    public ISettingsSection ReadSettings(string task, JsonObject? section, ConfigReader reader) =>
        SettingsSection.Read<PpoSettings>(section, reader, SettingsKey);

    /// <summary>The run's PPO settings.</summary>
    public static PpoSettings Ppo(ISettingsSection settings) =>
        settings as PpoSettings ?? throw new ArgumentException($"locomotion settings are PpoSettings, not {settings.GetType().Name}", nameof(settings));

    public long SpentBudget(TrainRole role, long budget, ISettingsSection settings)
    {
        long batch = Ppo(settings).BatchSize;
        return (budget + batch - 1) / batch * batch;
    }

    public IReadOnlyList<string> SoupModes(ISettingsSection settings) => ["linear"];

    public string PolicyPath(string jobDir, TrainRole? role) => Path.Combine(jobDir, TrainingRun.PolicyFile);

    public void Train(TrainJobSpec spec, Action<string>? log, CancellationToken cancel)
    {
        PpoSettings ppo = Ppo(spec.Settings);
        RewardFunction reward = spec.Reward ?? throw new SoupInputException("a locomotion training needs a reward");
        string? init = spec.InitDir is null ? null : PolicyPath(spec.InitDir, TrainRole.Init);
        var training = new TrainingSpec(spec.Task, reward, spec.Budget, spec.Seed, init, ppo);
        int total = (int)((spec.Budget + ppo.BatchSize - 1) / ppo.BatchSize);
        TrainingRun.Run(spec.Dir, training, n => BuiltInLocomotion.Create(spec.Task, n), u =>
        {
            if (u.Update == total || u.Update % Math.Max(1, total / 5) == 0)
                log?.Invoke($"update {u.Update}/{total}, " + (u.Episodes > 0 ? $"return {u.EpisodicReturn:F1}" : "no episode ended yet"));
        }, cancel);
    }

    public void Soup(SoupJobSpec spec, CancellationToken cancel)
    {
        SoupMethod method = spec.Method ?? SoupMethod.Linear;
        if (method.IsLinear && spec.Mode != "linear") throw new SoupInputException($"locomotion soups are 'linear', not '{spec.Mode}'");
        var experts = spec.ExpertDirs.Select(d => PolicyPath(d, TrainRole.Expert)).ToList();
        StreamingMerge.Merge(new SoupRequest(experts, spec.Weights, PolicyPath(spec.Dir, null), Threads: 1, Method: method.Method, Parameters: method.Parameters,
            Base: method.Method.NeedsBase ? PolicyPath(spec.InitDir, TrainRole.Init) : null), cancel: cancel);
    }

    public EvalFile Evaluate(EvalJobSpec spec, CancellationToken cancel)
    {
        using DeterministicActor actor = spec.Ensemble is { } ensemble ? OpenEnsemble(ensemble, spec.Task) : OpenPolicy(PolicyPath(spec.PolicyDir, null), spec.Task);
        var returns = spec.Rewards.Select(_ => new List<double>()).ToList();
        foreach (int seed in spec.Seeds)
        {
            cancel.ThrowIfCancellationRequested();
            using IVectorEnv env = BuiltInLocomotion.Create(spec.Task, spec.Episodes);
            List<EpisodeResult> episodes = PolicyEvaluation.Run(actor, env, seed);
            List<RewardEstimate> estimates = PolicyEvaluation.Estimate(episodes, env.RewardTerms, spec.Rewards);
            for (int i = 0; i < spec.Rewards.Count; i++) returns[i].AddRange(estimates[i].Episodes);
        }
        return new EvalFile(spec.Rewards.Select(r => r.Name).ToList(), returns.Select(r => r.ToArray()).ToArray(), returns[0].Count,
            Inference: InferenceCost.Of(actor.ForwardPasses, actor.Elapsed.TotalSeconds, returns[0].Count));
    }

    /// <summary>A policy file's deterministic actor.</summary>
    public static DeterministicActor OpenPolicy(string policyFile, string task)
    {
        (GaussianPolicy policy, RunningMeanStd norm, _) = PolicyCheckpoint.Load(policyFile, task);
        return new PolicyActor(policy, norm, ownsPolicy: true);
    }

    /// <summary>The experts' output-space ensemble (<see cref="GaussianProductActor"/>): only the experts weighted above 0 are loaded.</summary>
    public static DeterministicActor OpenEnsemble(EnsembleSpec ensemble, string task)
    {
        ensemble.Check();
        var members = new List<(GaussianPolicy, RunningMeanStd, double)>();
        try
        {
            foreach ((int i, double w) in ensemble.Members)
            {
                (GaussianPolicy policy, RunningMeanStd norm, _) = PolicyCheckpoint.Load(Path.Combine(ensemble.ExpertDirs[i], TrainingRun.PolicyFile), task);
                members.Add((policy, norm, w));
            }
            return new GaussianProductActor(members);
        }
        catch
        {
            foreach (var m in members) m.Item1.Dispose();
            throw;
        }
    }

    public JsonObject? InitDetails(string initDir) => null;

    public IShowcase OpenShowcase(ShowcaseSource source) => new LocomotionShowcase(source);
}
