using RewardedSoups.Learning;
using RewardedSoups.Soup;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>A rollout of the soup θ(λ) for the page: rewards, and the robot's bodies frame by frame.</summary>
public sealed record SoupRollout(
    string Kind, double[] Lambda, string[] Rewards, double[] Returns, Dictionary<string, double> Terms, int Length, bool Fell,
    IReadOnlyList<string> Bodies, IReadOnlyList<int> Parents, double Dt, float[][] Frames, bool Cached = false, double ServerMs = 0);

/// <summary>
/// The locomotion showcase: the experts' weights (first training seed) merged in memory by
/// <see cref="MemoryMerge"/> with the requested method of the run (task-vector methods against the init) —
/// the values the run's soup job writes, no file per slider move — then one deterministic episode recorded
/// (seed <see cref="RolloutSeed"/>, so a λ always shows the same episode).
/// </summary>
public sealed class LocomotionShowcase : IShowcase
{
    /// <summary>Seed of every rollout's initial state.</summary>
    public const int RolloutSeed = 0;

    private readonly ShowcaseSource _source;
    private readonly (Dictionary<string, float[]> Weights, RunningMeanStd Norm)[] _experts;
    private readonly Dictionary<string, float[]>? _init;   // the base of task-vector methods, when the run has one
    private readonly int _obsSize, _actSize, _hidden;

    public LocomotionShowcase(ShowcaseSource source)
    {
        _source = source;
        _experts = new (Dictionary<string, float[]>, RunningMeanStd)[source.ExpertDirs.Count];
        PolicyInfo? info = null;
        for (int i = 0; i < _experts.Length; i++)
        {
            (GaussianPolicy policy, RunningMeanStd norm, PolicyInfo pi) = PolicyCheckpoint.Load(Path.Combine(source.ExpertDirs[i], TrainingRun.PolicyFile), source.Task);
            using (policy)
            {
                _experts[i] = (Weights(policy), norm);
            }
            info = pi;
        }
        if (source.NeedsBase)
        {
            (GaussianPolicy init, _, _) = PolicyCheckpoint.Load(Path.Combine(source.InitDir, TrainingRun.PolicyFile), source.Task);
            using (init) _init = Weights(init);
        }
        _obsSize = info!.ObservationSize;
        _actSize = info.ActionSize;
        _hidden = info.Hidden;
    }

    public string Kind => "locomotion";

    public object Options => new { rollout_seed = RolloutSeed };

    public string? Validate(IReadOnlyDictionary<string, string> query) => null;

    public string Key(IReadOnlyDictionary<string, string> query) => "";

    /// <summary>The soup's policy weights by name: what <see cref="Show"/> runs.</summary>
    public Dictionary<string, float[]> SoupTensors(SoupWeights lambda, SoupMethod method)
    {
        MemoryMerge merge = method.InMemory(_experts.Length, lambda);
        var soup = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach ((string name, float[] first) in _experts[0].Weights)
        {
            var values = new float[first.Length];
            merge.Tensor(name, _experts.Select(e => e.Weights[name]).ToArray(), method.Method.NeedsBase ? _init![name] : null, values);
            soup[name] = values;
        }
        return soup;
    }

    public object Show(SoupWeights lambda, SoupMethod method, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        using var scope = NewDisposeScope();
        using GaussianPolicy policy = Policy(SoupTensors(lambda, method));
        RunningMeanStd norm = _experts[lambda.ToList().FindIndex(w => w > 0)].Norm; // the experts share the init's normaliser
        using var actor = new PolicyActor(policy, norm);
        return Rollout(lambda, actor);
    }

    public object ShowEnsemble(SoupWeights lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        using var scope = NewDisposeScope();
        var members = new List<(GaussianPolicy, RunningMeanStd, double)>();
        foreach ((int i, double w) in lambda.Select((w, i) => (i, w)).Where(m => m.w > 0))
            members.Add((Policy(_experts[i].Weights), _experts[i].Norm, w));
        using var actor = new GaussianProductActor(members);
        return Rollout(lambda, actor);
    }

    /// <summary>A policy of the run's shape holding <paramref name="weights"/> (by state-dict name).</summary>
    private GaussianPolicy Policy(Dictionary<string, float[]> weights)
    {
        var policy = TorchRandom.Shared(() => new GaussianPolicy(_obsSize, _actSize, _hidden));
        using var noGrad = no_grad();
        foreach ((string name, Tensor target) in policy.state_dict()) target.copy_(tensor(weights[name]).reshape(target.shape));
        return policy;
    }

    /// <summary>One recorded episode of a policy or an ensemble, from the showcase's start state.</summary>
    private SoupRollout Rollout(SoupWeights lambda, DeterministicActor actor)
    {
        using LocomotionEnv env = BuiltInLocomotion.Create(_source.Task, 1);
        RecordedEpisode episode = PolicyEvaluation.Record(actor, env, RolloutSeed, Math.Min(env.MaxEpisodeSteps, 1000));
        double[] returns = _source.Rewards.Select(r =>
        {
            float[] w = r.Resolve(env.RewardTerms);
            return episode.TermSums.Select((s, k) => s * w[k]).Sum();
        }).ToArray();
        var terms = env.RewardTerms.Select((t, k) => (t, k)).ToDictionary(p => p.t, p => episode.TermSums[p.k]);
        return new SoupRollout(Kind, lambda.ToArray(), _source.Rewards.Select(r => r.Name).ToArray(), returns, terms, episode.Length, episode.Terminated,
            episode.Bodies, episode.Parents, env.Dt, episode.Frames);
    }

    public void Dispose()
    {
    }

    private static Dictionary<string, float[]> Weights(GaussianPolicy policy) =>
        policy.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray(), StringComparer.Ordinal);
}
