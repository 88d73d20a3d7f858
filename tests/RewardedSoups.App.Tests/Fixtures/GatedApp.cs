using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RewardedSoups.App;
using RewardedSoups.Cli;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// The real app on a copy of a finished run (its own <c>app-cache/</c>), whose showcase holds every
/// computation at a gate until the test opens it and records what it was asked: the soups are still
/// the real family's, computed once the gate opens. Lets a test fill the compute slots and the queue
/// without depending on how long a rollout takes.
/// </summary>
public sealed class GatedApp : IAsyncDisposable
{
    private readonly TempDir _dir;
    private readonly WebApplication _app;

    private GatedApp(TempDir dir, WebApplication app, GatedShowcase showcase, string runDir)
    {
        _dir = dir;
        _app = app;
        Showcase = showcase;
        RunDir = runDir;
        Queue = app.Services.GetRequiredService<ComputeQueue>();
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.Single().TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(120) };
    }

    public GatedShowcase Showcase { get; }

    public ComputeQueue Queue { get; }

    /// <summary>The run as the server holds it (its cache, its waiting requests).</summary>
    public RunHost Run => _app.Services.GetRequiredService<IReadOnlyDictionary<string, RunHost>>()[RunId];

    public string RunDir { get; }

    public string CacheDir => Path.Combine(RunDir, "app-cache");

    public string RunId => AppServer.RunId(RunDir);

    public HttpClient Http { get; }

    /// <summary>Serves a copy of <paramref name="runDir"/> (without its cache) with <paramref name="options"/>; the gate starts <paramref name="open"/> or closed.</summary>
    public static async Task<GatedApp> StartAsync(string runDir, AppOptions options, bool open = false)
    {
        var dir = new TempDir();
        string copy = Path.GetFullPath(dir.File("run"));
        CopyRun(runDir, copy);
        GatedShowcase? showcase = null;
        var tasks = new TaskCatalogue(Families.Catalogue.Families.Select(f => FamilyProxy.Wrap(f, inner => showcase = new GatedShowcase(inner, open))).ToList());
        WebApplication app = AppServer.Build([copy], tasks, "127.0.0.1", 0, Path.Combine(AppContext.BaseDirectory, "wwwroot"), options);
        await app.StartAsync();
        return new GatedApp(dir, app, showcase!, copy);
    }

    /// <summary>GET the soup of <paramref name="lambda"/>: the response (the caller disposes it).</summary>
    public Task<HttpResponseMessage> SoupAsync(string lambda, CancellationToken cancel = default) =>
        Http.GetAsync($"api/runs/{RunId}/soup?lambda={Uri.EscapeDataString(lambda)}", cancel);

    /// <summary>Asks for two soups, one after the other, and returns once both are computing (held at the closed gate): the two compute slots are taken.</summary>
    public async Task<(Task<HttpResponseMessage> First, Task<HttpResponseMessage> Second)> HoldBothSlotsAsync(string first, string second)
    {
        Assert.Equal(2, Queue.Slots);
        Task<HttpResponseMessage> a = SoupAsync(first);
        await WaitUntil(() => Showcase.Started.Count == 1, $"the soup {first} is computing");
        Task<HttpResponseMessage> b = SoupAsync(second);
        await WaitUntil(() => Showcase.Started.Count == 2, $"the soup {second} is computing");
        return (a, b);
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test (naming <paramref name="what"/>) if it never does within a minute.</summary>
    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"gave up waiting until {what}");
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Showcase.Open();
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>A run folder's files, but not its app cache.</summary>
    private static void CopyRun(string from, string to)
    {
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, dir);
            if (relative.Split(Path.DirectorySeparatorChar)[0] != "app-cache") Directory.CreateDirectory(Path.Combine(to, relative));
        }
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar)[0] == "app-cache") continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
            File.Copy(file, Path.Combine(to, relative));
        }
    }
}

/// <summary>A family's showcase behind a gate: each <see cref="Show"/> is recorded, then waits for the gate (or its token) before computing.</summary>
public sealed class GatedShowcase(IShowcase inner, bool open) : IShowcase
{
    private readonly ManualResetEventSlim _gate = new(open);
    private int _cancelled;

    /// <summary>The λ of every computation started, in order.</summary>
    public ConcurrentQueue<SoupWeights> Started { get; } = new();

    /// <summary>Computations whose token was cancelled while they waited at the gate.</summary>
    public int Cancelled => Volatile.Read(ref _cancelled);

    public string Kind => inner.Kind;

    public object Options => inner.Options;

    public void Open() => _gate.Set();

    public string? Validate(IReadOnlyDictionary<string, string> query) => inner.Validate(query);

    public string Key(IReadOnlyDictionary<string, string> query) => inner.Key(query);

    public object Show(SoupWeights lambda, SoupMethod method, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        Wait(lambda, cancel);
        return inner.Show(lambda, method, query, cancel);
    }

    public object ShowEnsemble(SoupWeights lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        Wait(lambda, cancel);
        return inner.ShowEnsemble(lambda, query, cancel);
    }

    private void Wait(SoupWeights lambda, CancellationToken cancel)
    {
        Started.Enqueue(lambda);
        try
        {
            _gate.Wait(cancel);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _cancelled);
            throw;
        }
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>A task family as it is, except that the showcases it opens are wrapped.</summary>
public class FamilyProxy : DispatchProxy
{
    private ITaskFamily _inner = null!;
    private Func<IShowcase, IShowcase> _wrap = null!;

    public static ITaskFamily Wrap(ITaskFamily inner, Func<IShowcase, IShowcase> wrap)
    {
        ITaskFamily proxy = Create<ITaskFamily, FamilyProxy>();
        var self = (FamilyProxy)(object)proxy;
        self._inner = inner;
        self._wrap = wrap;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        object? result;
        try
        {
            result = method!.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        return method.Name == nameof(ITaskFamily.OpenShowcase) ? _wrap((IShowcase)result!) : result;
    }
}
