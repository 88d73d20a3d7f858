using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Runner;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.App;

/// <summary>A rollout of the soup θ(λ) for the page: rewards, and the robot's bodies frame by frame.</summary>
public sealed record SoupRollout(
    double[] Lambda, string[] Rewards, double[] Returns, Dictionary<string, double> Terms, int Length, bool Fell,
    IReadOnlyList<string> Bodies, IReadOnlyList<int> Parents, double Dt, float[][] Frames, bool Cached, double ServerMs);

/// <summary>
/// One run as the app serves it: its results, and soups of its experts (first training seed) for any
/// λ, computed live — the experts' weights interpolated in memory, float32 as `soup merge` does — then
/// one deterministic episode recorded. Results are cached in the run folder (<c>app-cache/</c>); at most
/// <see cref="MaxConcurrent"/> rollouts run at once per run, the others wait their turn, and concurrent
/// requests for one λ share one computation.
/// </summary>
public sealed class RunHost : IDisposable
{
    public const int MaxConcurrent = 2;

    /// <summary>Seed of every rollout's initial state, so a λ always shows the same episode.</summary>
    public const int RolloutSeed = 0;

    private readonly ITaskProvider _tasks;
    private readonly SemaphoreSlim _slots = new(MaxConcurrent);
    private readonly ConcurrentDictionary<string, Lazy<Task<SoupRollout>>> _inFlight = new();
    private readonly (Dictionary<string, Tensor> Weights, RunningMeanStd Norm)[] _experts;
    private readonly RewardFunction[] _rewards;
    private readonly int _obsSize, _actSize, _hidden;

    public RunHost(string id, string dir, ITaskProvider tasks)
    {
        Id = id;
        Dir = dir;
        _tasks = tasks;
        Plan = ExperimentRunner.Open(dir);
        string resultsPath = Path.Combine(dir, ResultsBuilder.ResultsFile);
        if (!File.Exists(resultsPath)) throw new SoupInputException($"{dir}: no {ResultsBuilder.ResultsFile}; finish the run first (soup run)");
        ResultsJson = File.ReadAllText(resultsPath);
        Results = JsonSerializer.Deserialize<ExperimentResults>(ResultsJson) ?? throw new SoupInputException($"{resultsPath}: empty");
        int seed = Plan.Config.TrainingSeeds.First();
        _experts = new (Dictionary<string, Tensor>, RunningMeanStd)[Plan.Config.Experts.Count];
        PolicyInfo? info = null;
        for (int i = 0; i < _experts.Length; i++)
        {
            (GaussianPolicy policy, RunningMeanStd norm, PolicyInfo pi) = PolicyCheckpoint.Load(Plan.PolicyPath(Plan.Get($"s{seed}-expert-{i + 1}")), Plan.Config.Task);
            using (policy)
            {
                _experts[i] = (policy.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()), norm);
            }
            info = pi;
        }
        _obsSize = info!.ObservationSize;
        _actSize = info.ActionSize;
        _hidden = info.Hidden;
        _rewards = Plan.Config.Experts.Select(e => JobRunner.Resolve(tasks, Plan.Config.Task, e)).ToArray();
    }

    public string Id { get; }

    public string Dir { get; }

    public ExperimentPlan Plan { get; }

    public ExperimentResults Results { get; }

    public string ResultsJson { get; }

    public int ExpertCount => _experts.Length;

    /// <summary>Parses and checks λ: N finite, non-negative weights summing to 1 (±1e-6). Returns an error message, or null.</summary>
    public string? Validate(string? text, out double[] lambda)
    {
        lambda = [];
        if (string.IsNullOrWhiteSpace(text)) return $"lambda is required: {ExpertCount} comma-separated weights, one per expert";
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != ExpertCount) return $"lambda has {parts.Length} weights; this run has {ExpertCount} experts";
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                return $"lambda[{i}] = '{Truncate(parts[i])}' is not a finite number";
            if (values[i] < 0) return $"lambda[{i}] = {values[i].ToString(CultureInfo.InvariantCulture)} is negative";
        }
        double sum = values.Sum();
        if (Math.Abs(sum - 1) > 1e-6) return $"lambda sums to {sum.ToString(CultureInfo.InvariantCulture)}, not 1";
        lambda = values;
        return null;
    }

    /// <summary>The rollout of θ(λ): from the cache, from a computation already running, or computed now.</summary>
    public Task<SoupRollout> RolloutAsync(double[] lambda, CancellationToken cancel)
    {
        string key = Key(lambda);
        string cachePath = Path.Combine(Dir, "app-cache", $"soup-{key}.json");
        if (File.Exists(cachePath))
        {
            SoupRollout? cached = JsonSerializer.Deserialize<SoupRollout>(File.ReadAllText(cachePath));
            if (cached is not null) return Task.FromResult(cached with { Cached = true, ServerMs = 0 });
        }
        Lazy<Task<SoupRollout>> work = _inFlight.GetOrAdd(key, _ => new Lazy<Task<SoupRollout>>(() => ComputeAsync(lambda, cachePath)));
        return work.Value.WaitAsync(cancel);
    }

    private async Task<SoupRollout> ComputeAsync(double[] lambda, string cachePath)
    {
        await _slots.WaitAsync();
        try
        {
            return await Task.Run(() =>
            {
                var clock = Stopwatch.StartNew();
                SoupRollout rollout = Compute(lambda);
                rollout = rollout with { ServerMs = clock.Elapsed.TotalMilliseconds };
                Directory.CreateDirectory(Path.GetDirectoryName(cachePath)!);
                Checkpoints.AtomicOutput.WriteAllText(cachePath, JsonSerializer.Serialize(rollout));
                return rollout;
            });
        }
        finally
        {
            _slots.Release();
            _inFlight.TryRemove(Key(lambda), out _);
        }
    }

    private SoupRollout Compute(double[] lambda)
    {
        using var scope = NewDisposeScope();
        using var policy = new GaussianPolicy(_obsSize, _actSize, _hidden);
        using (no_grad())
        {
            foreach ((string name, Tensor target) in policy.state_dict())
            {
                // θ = Σ λᵢ θᵢ in float32, the first term multiplied, the rest added, zero weights skipped (as LinearSoup).
                Tensor? acc = null;
                for (int i = 0; i < _experts.Length; i++)
                {
                    if (lambda[i] == 0) continue;
                    Tensor term = _experts[i].Weights[name] * (float)lambda[i];
                    acc = acc is null ? term : acc + term;
                }
                target.copy_(acc ?? zeros_like(target));
            }
        }
        RunningMeanStd norm = _experts[Array.FindIndex(lambda, w => w > 0)].Norm; // the experts share the init's normaliser
        using IVectorEnv env = _tasks.Create(Plan.Config.Task, 1);
        if (env is not IRecordableEnv recordable)
            throw new InvalidOperationException($"task '{Plan.Config.Task}' cannot be recorded");
        RecordedEpisode episode = PolicyEvaluation.Record(policy, norm, recordable, RolloutSeed, Math.Min(env.MaxEpisodeSteps, 1000));
        double[] returns = _rewards.Select(r =>
        {
            float[] w = r.Resolve(env.RewardTerms);
            return episode.TermSums.Select((s, k) => s * w[k]).Sum();
        }).ToArray();
        var terms = env.RewardTerms.Select((t, k) => (t, k)).ToDictionary(p => p.t, p => episode.TermSums[p.k]);
        return new SoupRollout(lambda, _rewards.Select(r => r.Name).ToArray(), returns, terms, episode.Length, episode.Terminated,
            episode.Bodies, episode.Parents, recordable.Dt, episode.Frames, false, 0);
    }

    private static string Key(double[] lambda) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",", lambda.Select(l => l.ToString("R", CultureInfo.InvariantCulture))))))[..16];

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "…";

    public void Dispose()
    {
        foreach ((Dictionary<string, Tensor> weights, _) in _experts)
            foreach (Tensor t in weights.Values) t.Dispose();
        _slots.Dispose();
    }
}
