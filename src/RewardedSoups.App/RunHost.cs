using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Runner;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.App;

/// <summary>
/// One run as the app serves it: its results, and its family's showcase of soups of its experts
/// (first training seed) for any λ (rounded as <see cref="SoupLambda"/> says), computed live in the
/// app's <see cref="ComputeQueue"/>. Answers are cached in the run folder (<c>app-cache/</c>, a
/// <see cref="SoupCache"/> of bounded size); concurrent requests for one λ (and the same extra
/// parameters) share one computation, which is dropped from the queue, or handed a cancelled token if
/// it runs, once every request waiting for it has gone.
/// </summary>
public sealed class RunHost : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web) { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private readonly object _gate = new();
    private readonly Dictionary<string, Flight> _inFlight = new(StringComparer.Ordinal);
    private int _waiting;
    private readonly ComputeQueue _queue;
    private readonly IShowcase _showcase;
    private readonly ITaskFamily _family;
    private readonly Lock _preferenceGate = new();

    public RunHost(string id, string dir, TaskCatalogue tasks, ComputeQueue queue, long cacheBytes)
    {
        Id = id;
        _queue = queue;
        Dir = dir;
        Plan = ExperimentRunner.Open(dir, tasks);
        string resultsPath = Path.Combine(dir, ResultsBuilder.ResultsFile);
        if (!File.Exists(resultsPath)) throw new SoupInputException($"{dir}: no {ResultsBuilder.ResultsFile}; finish the run first (soup run)");
        ResultsJson = File.ReadAllText(resultsPath);
        Results = JsonSerializer.Deserialize<ExperimentResults>(ResultsJson) ?? throw new SoupInputException($"{resultsPath}: empty");
        ExperimentConfig c = Plan.Config;
        int seed = c.TrainingSeeds.First();
        ExpertCount = c.Experts.Count;
        var source = new ShowcaseSource(c.Task, c.Settings, c.Experts,
            Plan.JobDir(Plan.Init(seed)),
            Enumerable.Range(0, ExpertCount).Select(i => Plan.JobDir(Plan.Expert(seed, i))).ToList(),
            Path.Combine(dir, "app-cache"), c.SoupMethods);
        Methods = c.SoupMethods;
        _family = tasks.Family(c.Task);
        _showcase = _family.OpenShowcase(source);
        Cache = new SoupCache(source.CacheDir, cacheBytes);
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

    /// <summary>The run's soup methods (<c>soups.methods</c>); a live soup is made with any of them, by label (the first by default).</summary>
    public IReadOnlyList<SoupMethod> Methods { get; }

    /// <summary>The run's computed soups on disk.</summary>
    public SoupCache Cache { get; }

    /// <summary>Requests waiting for a computation (queued or running) of this run.</summary>
    public int Waiting
    {
        get { lock (_gate) return _waiting; }
    }

    /// <summary>The query's key naming the soup method (<c>method=ties</c>), by its label in the run.</summary>
    public const string MethodKey = "method";

    /// <summary>Checks the request's extra parameters (the method's label, e.g. the prompt); an error message, or null.</summary>
    public string? ValidateQuery(IReadOnlyDictionary<string, string> query)
    {
        (SoupMethod? method, Dictionary<string, string> rest) = Split(query);
        if (method is null)
            return $"unknown soup method {Printable.Quote(query[MethodKey], 40)}; this run's: {string.Join(", ", Methods.Select(m => m.Label))}";
        return _showcase.Validate(rest);
    }

    /// <summary>The method a query asks for (by label, else the run's first; null for a label the run lacks) and the showcase's own parameters.</summary>
    private (SoupMethod? Method, Dictionary<string, string> Others) Split(IReadOnlyDictionary<string, string> query) =>
        (query.TryGetValue(MethodKey, out string? label) ? Methods.FirstOrDefault(m => m.Label == label) : Methods[0],
         query.Where(q => q.Key != MethodKey).ToDictionary(q => q.Key, q => q.Value, StringComparer.Ordinal));

    /// <summary>
    /// The showcase of θ(λ): from the cache, from a computation already running or queued, or queued
    /// now; null when the queue is full. <paramref name="cancel"/> is this request's: when every request
    /// waiting for a computation has gone, it is not started (or, running, is handed a cancelled token).
    /// </summary>
    public async Task<SoupAnswer?> ShowAsync(SoupLambda lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel) =>
        await ShowAsync(lambda, query, ensemble: false, cancel);

    /// <summary>
    /// As <see cref="ShowAsync(SoupLambda, IReadOnlyDictionary{string, string}, CancellationToken)"/>; with <paramref name="ensemble"/>,
    /// the experts' output-space ensemble of λ instead of their soup (no merge method: <c>method</c> is refused by the endpoint).
    /// </summary>
    public async Task<SoupAnswer?> ShowAsync(SoupLambda lambda, IReadOnlyDictionary<string, string> query, bool ensemble, CancellationToken cancel)
    {
        (SoupMethod? asked, Dictionary<string, string> rest) = Split(query);
        SoupMethod method = asked ?? throw new ArgumentException($"unknown soup method: call {nameof(ValidateQuery)} first", nameof(query));
        query = rest;
        // The first method keeps the key it had before runs had several, so existing caches stay valid.
        string key = Key(lambda, _showcase.Key(query) + (ensemble ? "|ensemble" : method == Methods[0] ? "" : "|method=" + method.Label));
        Flight? flight = null;
        for (int attempt = 0; flight is null; attempt++)
        {
            if (Cache.TryGet(key) is { } body) return new SoupAnswer(body, Cached: true, ServerMs: 0);
            lock (_gate)
            {
                if (_inFlight.TryGetValue(key, out flight))
                {
                    flight.Waiters++;
                    _waiting++;
                    break;
                }
                // Computed and cached between the look-up above and now: read it rather than compute it again.
                if (attempt == 0 && Cache.Contains(key)) continue;
                var abandon = new CancellationTokenSource();
                Task<SoupAnswer>? work = _queue.TryRun(token => Compute(key, lambda, ensemble ? null : method, query, token), abandon.Token);
                if (work is null) return null;
                flight = new Flight(work, abandon) { Waiters = 1 };
                _waiting++;
                _inFlight[key] = flight;
                Flight mine = flight;
                _ = work.ContinueWith(done =>
                {
                    lock (_gate)
                    {
                        if (_inFlight.TryGetValue(key, out Flight? current) && current == mine) _inFlight.Remove(key);
                    }
                    _ = done.Exception; // observed: a failure is the waiters' to report, if any are left
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        try
        {
            return await flight.Work.WaitAsync(cancel);
        }
        finally
        {
            bool abandoned;
            lock (_gate)
            {
                _waiting--;
                abandoned = --flight.Waiters == 0 && !flight.Work.IsCompleted;
                if (abandoned && _inFlight.TryGetValue(key, out Flight? current) && current == flight) _inFlight.Remove(key);
            }
            if (abandoned) await flight.Abandon.CancelAsync();
        }
    }

    /// <summary>Runs in a slot of the queue: the showcase of θ(λ) (of the ensemble of λ when <paramref name="method"/> is null), then stored in the cache (a failure to store is logged, not the request's).</summary>
    private SoupAnswer Compute(string key, SoupLambda lambda, SoupMethod? method, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        object computed = method is null ? _showcase.ShowEnsemble(lambda.Weights, query, cancel) : _showcase.Show(lambda.Weights, method, query, cancel);
        JsonObject shown = JsonSerializer.SerializeToNode(computed, Web)!.AsObject();
        if (method is null) shown["ensemble"] = true;
        else shown["method"] = method.Label;
        // Added to each answer instead (SoupAnswer): a cached copy says so.
        shown.Remove("cached");
        shown.Remove("serverMs");
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(shown, Web);
        double ms = clock.Elapsed.TotalMilliseconds;
        try
        {
            Cache.Put(key, body);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"app cache of {Id}: {e.GetType().Name}: {e.Message}");
        }
        return new SoupAnswer(body, Cached: false, ServerMs: ms);
    }

    /// <summary>
    /// λ*(μ) for any preference μ (already validated and rounded to hundredths), as <c>soup prefer</c> computes it: the soup of
    /// the run's λ grid with the best utility μ · R on the validation half of the evaluations, and the test utilities
    /// (results.json's <c>preferences</c> item for μ). Null when an evaluation has a single return (nothing to split). One
    /// analysis at a time: it reads every evaluation of the run.
    /// </summary>
    public PreferenceResult? Prefer(SoupLambda mu)
    {
        double[] preference = mu.Weights.ToArray();
        lock (_preferenceGate)
        {
            ExperimentResults results = ResultsBuilder.Build(Plan, _family, [preference]);
            return results.Preferences?.Items.FirstOrDefault(i => i.Sources.Contains("asked"));
        }
    }

    private static string Key(SoupLambda lambda, string extra) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lambda.Key + "|" + extra)))[..16];

    public void Dispose() => _showcase.Dispose();

    /// <summary>One computation and how many requests wait for it (under the gate).</summary>
    private sealed class Flight(Task<SoupAnswer> work, CancellationTokenSource abandon)
    {
        public Task<SoupAnswer> Work { get; } = work;

        public CancellationTokenSource Abandon { get; } = abandon;

        public int Waiters { get; set; }
    }
}
