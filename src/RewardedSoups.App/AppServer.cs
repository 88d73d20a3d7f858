using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using RewardedSoups.Tasks;

namespace RewardedSoups.App;

/// <summary>
/// The web app: static pages (home, run page) and a JSON API.
/// <list type="bullet">
/// <item><c>GET /api/runs</c>: the runs served, by id.</item>
/// <item><c>GET /api/runs/{id}/results</c>: that run's results.json.</item>
/// <item><c>GET /api/runs/{id}/showcase</c>: how the run's soups are shown (<c>kind</c>) and what may be asked (<c>options</c>, e.g. prompts).</item>
/// <item><c>GET /api/runs/{id}/soup?lambda=0.3,0.7[&amp;method=LABEL][&amp;prompt=k]</c>: the soup θ(λ) made by one of the run's
/// soup methods (the first by default) shown live (a recorded episode, texts, images; cached).</item>
/// </list>
/// Runs are addressed by id, never by a path from the request. Errors are JSON <c>{"error": …}</c>:
/// 400 for a malformed request, 404 for an unknown run, 503 with <c>Retry-After</c> when the compute
/// queue is full (<see cref="AppOptions"/>), 500 with no detail for a failure of ours.
/// </summary>
public static class AppServer
{
    public static WebApplication Build(IReadOnlyList<string> runDirs, TaskCatalogue tasks, string host, int port, string webRoot, AppOptions? options = null)
    {
        options ??= new AppOptions();
        var queue = new ComputeQueue(options.ComputeSlots, options.MaxQueued);
        var runs = new Dictionary<string, RunHost>(StringComparer.Ordinal);
        foreach (string dir in runDirs)
        {
            string full = Path.GetFullPath(dir);
            var run = new RunHost(RunId(full), full, tasks, queue, options.CacheBytes);
            if (!runs.TryAdd(run.Id, run)) throw new SoupInputException($"{dir}: served twice");
        }
        if (!Directory.Exists(webRoot)) throw new InvalidOperationException($"web assets missing at {webRoot}");

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { WebRootPath = webRoot, ContentRootPath = webRoot });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{host}:{port}");
        // Observable by the app's host (tests, benchmarks): the queue and the runs served.
        builder.Services.AddSingleton(queue);
        builder.Services.AddSingleton<IReadOnlyDictionary<string, RunHost>>(runs);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals);
        WebApplication app = builder.Build();

        app.UseExceptionHandler(error => error.Run(async context =>
        {
            // Never a stack trace to the client; the server's console gets one line.
            Exception? e = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            // (Only the message's first line: libtorch's errors carry their C++ backtrace in it.)
            Console.Error.WriteLine($"error serving {context.Request.Path}: {e?.GetType().Name}: {e?.Message.Split('\n', 2)[0].TrimEnd()}");
            context.Response.StatusCode = 500;
            await context.Response.WriteAsJsonAsync(new { error = "internal error" });
        }));
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(webRoot), ServeUnknownFileTypes = false });
        // Routing after the static files: routed first, "/" would match the fallback before the default
        // document is found, and static files skip any request that already has an endpoint.
        app.UseRouting();

        app.MapGet("/api/runs", () => runs.Values.Select(r => new
        {
            id = r.Id,
            name = r.Results.Name,
            task = r.Results.Task,
            rewards = r.Results.Rewards,
            training_seeds = r.Results.TrainingSeeds,
            policies = r.Results.Policies.Count,
            showcase = r.ShowcaseKind,
        }));
        app.MapGet("/api/runs/{id}/showcase", (string id) =>
            runs.TryGetValue(id, out RunHost? run)
                ? Results.Json(new { kind = run.ShowcaseKind, options = run.ShowcaseOptions, methods = run.Methods.Select(m => new { label = m.Label, method = m.Method.Name }), ensemble = run.Results.Ensemble is not null })
                : NotFound(id));
        app.MapGet("/api/runs/{id}/results", (string id) =>
            runs.TryGetValue(id, out RunHost? run)
                ? Results.Text(run.ResultsJson, "application/json")
                : NotFound(id));
        // `cancel` is the request's (HttpContext.RequestAborted): a client that leaves stops waiting, and
        // a computation nobody waits for any more is not started.
        async Task<IResult> Show(string id, string? lambda, HttpRequest request, HttpResponse response, bool ensemble, CancellationToken cancel)
        {
            if (!runs.TryGetValue(id, out RunHost? run)) return NotFound(id);
            string? problem = SoupLambda.TryParse(lambda, run.ExpertCount, out SoupLambda weights);
            var query = request.Query.Where(q => q.Key != "lambda").ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
            if (ensemble && query.ContainsKey(RunHost.MethodKey)) problem ??= "an ensemble combines the experts' outputs: it takes no soup method";
            problem ??= run.ValidateQuery(query);
            if (problem is not null) return Results.Json(new { error = problem }, statusCode: 400);
            if (await run.ShowAsync(weights, query, ensemble, cancel) is { } answer) return answer;
            int wait = queue.RetryAfterSeconds;
            response.Headers.RetryAfter = wait.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Json(new { error = $"busy: {queue.Running + queue.Waiting} soups are being computed or waiting; retry in {wait} s" }, statusCode: 503);
        }
        app.MapGet("/api/runs/{id}/soup", (string id, string? lambda, HttpRequest request, HttpResponse response, CancellationToken cancel) =>
            Show(id, lambda, request, response, ensemble: false, cancel));
        // The experts' output-space ensemble of λ, drawn as the soup of λ is (same prompt, noise or start state): weights or outputs, side by side.
        app.MapGet("/api/runs/{id}/ensemble", (string id, string? lambda, HttpRequest request, HttpResponse response, CancellationToken cancel) =>
            Show(id, lambda, request, response, ensemble: true, cancel));
        // λ*(μ) for any preference μ (rounded to hundredths as λ is): the soup of the grid that serves μ best on validation
        // returns, with test utilities, as results.json's preferences items (which hold only the grid's and MORL's μ).
        app.MapGet("/api/runs/{id}/prefer", (string id, string? mu) =>
        {
            if (!runs.TryGetValue(id, out RunHost? run)) return NotFound(id);
            string? problem = SoupLambda.TryParse(mu, run.ExpertCount, out SoupLambda weights);
            if (problem is not null) return Results.Json(new { error = problem.Replace("lambda", "mu", StringComparison.Ordinal) }, statusCode: 400);
            return run.Prefer(weights) is { } item
                ? Results.Json(item)
                : Results.Json(new { error = "each evaluation of this run has a single return: λ*(μ) needs one half to choose on and one to report on" }, statusCode: 409);
        });
        // Every unknown path, file-like ("x.html") or not, gets the JSON 404.
        app.MapFallback("{*path}", context =>
        {
            context.Response.StatusCode = 404;
            return context.Response.WriteAsJsonAsync(new { error = "not found" });
        });
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            queue.Dispose();
            foreach (RunHost r in runs.Values) r.Dispose();
        });
        return app;
    }

    private static IResult NotFound(string id) => Results.Json(new { error = $"no run '{Truncate(id, 64)}'" }, statusCode: 404);

    /// <summary>A stable id: the folder's name made URL-safe, and a short hash of its full path.</summary>
    public static string RunId(string fullPath)
    {
        string name = new(Path.GetFileName(fullPath.TrimEnd('/')).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fullPath)))[..6];
        return $"{name}-{hash}";
    }

    /// <summary>Echoes at most <paramref name="max"/> characters of client input in an error.</summary>
    public static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";
}

/// <summary>The app's limits (<c>soup serve --cache-mb, --max-queued</c>).</summary>
public sealed record AppOptions
{
    /// <summary>The default bound of each run's <c>app-cache/</c>, in MiB.</summary>
    public const int DefaultCacheMb = 64;

    /// <summary>Each run's cache on disk at most, in bytes (0: nothing cached).</summary>
    public long CacheBytes { get; init; } = DefaultCacheMb * (1L << 20);

    /// <summary>Computations waiting for a slot at most (all runs together); one more is answered 503.</summary>
    public int MaxQueued { get; init; } = ComputeQueue.DefaultMaxWaiting;

    /// <summary>Computations at once (all runs together).</summary>
    public int ComputeSlots { get; init; } = ComputeQueue.DefaultSlots;
}
