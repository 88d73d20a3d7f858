using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Runner;
using RewardedSoups.Tasks;

namespace RewardedSoups.App;

/// <summary>
/// One run as the app serves it: its results, and its family's showcase of soups of its experts
/// (first training seed) for any λ, computed live. Answers are cached in the run folder
/// (<c>app-cache/</c>); at most <see cref="MaxConcurrent"/> computations run at once per run, the
/// others wait their turn, and concurrent requests for one λ (and the same extra parameters) share
/// one computation.
/// </summary>
public sealed class RunHost : IDisposable
{
    public const int MaxConcurrent = 2;

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web) { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private readonly SemaphoreSlim _slots = new(MaxConcurrent);
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _inFlight = new();
    private readonly IShowcase _showcase;

    public RunHost(string id, string dir, TaskCatalogue tasks)
    {
        Id = id;
        Dir = dir;
        Plan = ExperimentRunner.Open(dir);
        string resultsPath = Path.Combine(dir, ResultsBuilder.ResultsFile);
        if (!File.Exists(resultsPath)) throw new SoupInputException($"{dir}: no {ResultsBuilder.ResultsFile}; finish the run first (soup run)");
        ResultsJson = File.ReadAllText(resultsPath);
        Results = JsonSerializer.Deserialize<ExperimentResults>(ResultsJson) ?? throw new SoupInputException($"{resultsPath}: empty");
        ExperimentConfig c = Plan.Config;
        int seed = c.TrainingSeeds.First();
        ExpertCount = c.Experts.Count;
        var source = new ShowcaseSource(c.Task, c.Settings, c.Experts.Select(e => JobRunner.Resolve(tasks, c.Task, e)).ToList(),
            Plan.JobDir(Plan.Get($"s{seed}-init")),
            Enumerable.Range(1, ExpertCount).Select(i => Plan.JobDir(Plan.Get($"s{seed}-expert-{i}"))).ToList(),
            Path.Combine(dir, "app-cache"));
        _showcase = tasks.Family(c.Task).OpenShowcase(source);
    }

    public string Id { get; }

    public string Dir { get; }

    public ExperimentPlan Plan { get; }

    public ExperimentResults Results { get; }

    public string ResultsJson { get; }

    public int ExpertCount { get; }

    /// <summary><c>locomotion</c>, <c>text</c>, …: how the page draws a soup.</summary>
    public string ShowcaseKind => _showcase.Kind;

    /// <summary>What the page may ask the showcase (e.g. prompts).</summary>
    public object ShowcaseOptions => _showcase.Options;

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
                return $"lambda[{i}] = '{AppServer.Truncate(parts[i], 32)}' is not a finite number";
            if (values[i] < 0) return $"lambda[{i}] = {values[i].ToString(CultureInfo.InvariantCulture)} is negative";
        }
        double sum = values.Sum();
        if (Math.Abs(sum - 1) > 1e-6) return $"lambda sums to {sum.ToString(CultureInfo.InvariantCulture)}, not 1";
        lambda = values;
        return null;
    }

    /// <summary>Checks the request's extra parameters (e.g. the prompt); an error message, or null.</summary>
    public string? ValidateQuery(IReadOnlyDictionary<string, string> query) => _showcase.Validate(query);

    /// <summary>The showcase of θ(λ) as JSON (with <c>cached</c> and <c>serverMs</c>): from the cache, from a computation already running, or computed now.</summary>
    public Task<string> ShowAsync(double[] lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        string key = Key(lambda, _showcase.Key(query));
        string cachePath = Path.Combine(Dir, "app-cache", $"soup-{key}.json");
        if (File.Exists(cachePath))
        {
            try
            {
                JsonNode? cached = JsonNode.Parse(File.ReadAllText(cachePath));
                if (cached is JsonObject obj)
                {
                    obj["cached"] = true;
                    obj["serverMs"] = 0;
                    return Task.FromResult(obj.ToJsonString());
                }
            }
            catch (JsonException)
            {
                // A damaged cache entry is recomputed.
            }
        }
        Lazy<Task<string>> work = _inFlight.GetOrAdd(key, _ => new Lazy<Task<string>>(() => ComputeAsync(key, lambda, query, cachePath)));
        return work.Value.WaitAsync(cancel);
    }

    private async Task<string> ComputeAsync(string key, double[] lambda, IReadOnlyDictionary<string, string> query, string cachePath)
    {
        await _slots.WaitAsync();
        try
        {
            return await Task.Run(() =>
            {
                var clock = Stopwatch.StartNew();
                JsonObject shown = JsonSerializer.SerializeToNode(_showcase.Show(lambda, query, CancellationToken.None), Web)!.AsObject();
                shown["cached"] = false;
                shown["serverMs"] = clock.Elapsed.TotalMilliseconds;
                string json = shown.ToJsonString();
                Directory.CreateDirectory(Path.GetDirectoryName(cachePath)!);
                Checkpoints.AtomicOutput.WriteAllText(cachePath, json);
                return json;
            });
        }
        finally
        {
            _slots.Release();
            _inFlight.TryRemove(key, out _);
        }
    }

    private static string Key(double[] lambda, string extra) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",", lambda.Select(l => l.ToString("R", CultureInfo.InvariantCulture))) + "|" + extra)))[..16];

    public void Dispose()
    {
        _showcase.Dispose();
        _slots.Dispose();
    }
}
