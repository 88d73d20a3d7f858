using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using RewardedSoups.Runner;
using RewardedSoups.Tasks;

namespace RewardedSoups.App;

/// <summary>
/// The web app: static pages (home, run page) and a JSON API.
/// <list type="bullet">
/// <item><c>GET /api/runs</c>: the runs served, by id.</item>
/// <item><c>GET /api/runs/{id}/results</c>: that run's results.json.</item>
/// <item><c>GET /api/runs/{id}/showcase</c>: how the run's soups are shown (<c>kind</c>) and what may be asked (<c>options</c>, e.g. prompts).</item>
/// <item><c>GET /api/runs/{id}/soup?lambda=0.3,0.7[&amp;prompt=k]</c>: the soup θ(λ) shown live (a recorded episode, texts, images; cached).</item>
/// </list>
/// Runs are addressed by id, never by a path from the request. Errors are JSON <c>{"error": …}</c>:
/// 400 for a malformed request, 404 for an unknown run, 500 with no detail for a failure of ours.
/// </summary>
public static class AppServer
{
    public static WebApplication Build(IReadOnlyList<string> runDirs, TaskCatalogue tasks, string host, int port, string webRoot)
    {
        var runs = new Dictionary<string, RunHost>(StringComparer.Ordinal);
        foreach (string dir in runDirs)
        {
            string full = Path.GetFullPath(dir);
            var run = new RunHost(RunId(full), full, tasks);
            if (!runs.TryAdd(run.Id, run)) throw new SoupInputException($"{dir}: served twice");
        }
        if (!Directory.Exists(webRoot)) throw new InvalidOperationException($"web assets missing at {webRoot}");

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { WebRootPath = webRoot, ContentRootPath = webRoot });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{host}:{port}");
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals);
        WebApplication app = builder.Build();

        app.UseExceptionHandler(error => error.Run(async context =>
        {
            // Never a stack trace to the client; the server's console gets one line.
            Exception? e = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            Console.Error.WriteLine($"error serving {context.Request.Path}: {e?.GetType().Name}: {e?.Message}");
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
                ? Results.Json(new { kind = run.ShowcaseKind, options = run.ShowcaseOptions })
                : NotFound(id));
        app.MapGet("/api/runs/{id}/results", (string id) =>
            runs.TryGetValue(id, out RunHost? run)
                ? Results.Text(run.ResultsJson, "application/json")
                : NotFound(id));
        app.MapGet("/api/runs/{id}/soup", async (string id, string? lambda, HttpRequest request, CancellationToken cancel) =>
        {
            if (!runs.TryGetValue(id, out RunHost? run)) return NotFound(id);
            string? problem = run.Validate(lambda, out double[] weights);
            var query = request.Query.Where(q => q.Key != "lambda").ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
            problem ??= run.ValidateQuery(query);
            if (problem is not null) return Results.Json(new { error = problem }, statusCode: 400);
            return Results.Text(await run.ShowAsync(weights, query, cancel), "application/json");
        });
        // Every unknown path, file-like ("x.html") or not, gets the JSON 404.
        app.MapFallback("{*path}", context =>
        {
            context.Response.StatusCode = 404;
            return context.Response.WriteAsJsonAsync(new { error = "not found" });
        });
        app.Lifetime.ApplicationStopped.Register(() =>
        {
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
