using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using RewardedSoups.App;
using RewardedSoups.Cli;

namespace RewardedSoups.Bench;

/// <summary>
/// The web app under load, in process, on loopback. First the server time of a soup for a λ never seen
/// (interpolate the experts, roll out up to 1000 steps: the response's <c>serverMs</c>) over FRESH λ,
/// one at a time (goal: median and max &lt; 300 ms on the cheetah). Then CLIENTS concurrent clients move
/// "sliders" for SECONDS: each asks for λ₂ drawn on a 0.01 grid, so most answers come from the app's
/// cache and some are computed. Reported: requests, errors, latency percentiles seen by the clients.
/// The run's app cache is cleared first (it is rebuilt on demand) so that every run measures alike;
/// <c>--keep-cache</c> keeps it.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- app --run RUN_DIR [--fresh 10] [--clients 20] [--seconds 30] [--seed 1] [--keep-cache]
/// </summary>
public static class AppBenchmark
{
    /// <summary>Upper bound on one client's requests, so that the load loop ends even if the clock misbehaves.</summary>
    private const int MaxRequestsPerClient = 100_000;

    private sealed record Sample(double Ms, bool Ok, bool Cached, double ServerMs, int Length);

    public static int Run(string[] args)
    {
        string? runDir = Program.Option(args, "--run", "") is { Length: > 0 } r ? Path.GetFullPath(r) : null;
        if (runDir is null || !File.Exists(Path.Combine(runDir, "results.json")))
        {
            Console.Error.WriteLine("usage: RewardedSoups.Bench app --run RUN_DIR (a finished run: results.json) [--fresh 10] [--clients 20] [--seconds 30] [--seed 1] [--keep-cache]");
            return 2;
        }
        int fresh = int.Parse(Program.Option(args, "--fresh", "10"), CultureInfo.InvariantCulture);
        int clients = int.Parse(Program.Option(args, "--clients", "20"), CultureInfo.InvariantCulture);
        double seconds = double.Parse(Program.Option(args, "--seconds", "30"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Program.Option(args, "--seed", "1"), CultureInfo.InvariantCulture);
        string cache = Path.Combine(runDir, "app-cache");
        if (!args.Contains("--keep-cache") && Directory.Exists(cache))
        {
            Console.Error.WriteLine($"clearing {cache} (the app's soup cache; rebuilt on demand)");
            Directory.Delete(cache, recursive: true);
        }
        return RunAsync(runDir, fresh, clients, seconds, seed).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string runDir, int fresh, int clients, double seconds, int seed)
    {
        // Port 0: Kestrel binds a free loopback port and reports it.
        await using WebApplication app = AppServer.Build([runDir], Families.Catalogue, "127.0.0.1", 0, Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        await app.StartAsync();
        string id = AppServer.RunId(runDir);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients })
        {
            BaseAddress = new Uri(app.Urls.Single().TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromSeconds(60),
        };
        Console.Error.WriteLine($"serving {runDir} at {http.BaseAddress}");

        // 1. New λ one at a time. The app rounds λ to the 0.01 grid, so phase 2 finds these few points cached.
        var random = new Random(seed);
        Sample cold = await GetAsync(http, id, OffGrid(random));
        if (!cold.Ok) throw new InvalidOperationException("the first soup request failed; see the server's error above");
        Console.Error.WriteLine($"first soup (cold: JIT, libtorch start-up): server {cold.ServerMs:F0} ms, client {cold.Ms:F0} ms");
        var freshSamples = new List<Sample>();
        for (int attempts = 0; freshSamples.Count < fresh && attempts < 10 * fresh; attempts++)
        {
            Sample s = await GetAsync(http, id, OffGrid(random));
            if (!s.Ok) throw new InvalidOperationException("a fresh soup request failed; see the server's error above");
            if (!s.Cached) freshSamples.Add(s);
        }
        Console.Error.WriteLine($"fresh λ, server ms: {string.Join(", ", freshSamples.Select(s => s.ServerMs.ToString("F0", CultureInfo.InvariantCulture)))}");

        // 2. Sliders: CLIENTS concurrent loops until the deadline, each bounded.
        Console.Error.WriteLine($"{clients} clients for {seconds:F0} s…");
        var clock = Stopwatch.StartNew();
        TimeSpan deadline = TimeSpan.FromSeconds(seconds);
        List<Sample>[] perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var mine = new Random(seed * 1000 + c + 1);
            var samples = new List<Sample>();
            while (clock.Elapsed < deadline && samples.Count < MaxRequestsPerClient)
            {
                double l2 = mine.Next(0, 101) / 100.0;
                samples.Add(await GetAsync(http, id, [1 - l2, l2]));
            }
            return samples;
        })));
        double elapsed = clock.Elapsed.TotalSeconds;
        List<Sample> all = perClient.SelectMany(s => s).ToList();
        List<Sample> ok = all.Where(s => s.Ok).ToList();
        await app.StopAsync();

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine($"Soup for a new λ, one request at a time ({fresh} fresh λ; server time = `serverMs`: interpolation + rollout of up to 1000 steps):");
        Console.WriteLine();
        Console.WriteLine("| run | fresh λ | episode steps (min–max) | server ms (median) | server ms (max) | client ms (median) | goal |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(inv,
            $"| {Path.GetFileName(runDir)} | {freshSamples.Count} | {freshSamples.Min(s => s.Length)}–{freshSamples.Max(s => s.Length)} | **{Program.Median(freshSamples.Select(s => s.ServerMs)):F0}** | {freshSamples.Max(s => s.ServerMs):F0} | {Program.Median(freshSamples.Select(s => s.Ms)):F0} | < 300 ms |"));
        Console.WriteLine();
        Console.WriteLine($"{clients} concurrent clients moving sliders (λ₂ on a 0.01 grid) for {elapsed:F0} s, loopback, client-side latency:");
        Console.WriteLine();
        Console.WriteLine("| requests | errors | req/s | answers | p50 ms | p95 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        // "computed" can exceed the grid's 101 points: requests that arrive while their λ is computed share that computation.
        foreach ((string label, List<Sample> rows) in new[] { ("all", ok), ("cached", ok.Where(s => s.Cached).ToList()), ("computed", ok.Where(s => !s.Cached).ToList()) })
        {
            if (rows.Count == 0) continue;
            double[] ms = rows.Select(s => s.Ms).Order().ToArray();
            string head = label == "all" ? string.Create(inv, $"{all.Count} | {all.Count - ok.Count} | {all.Count / elapsed:F0}") : " |  | ";
            Console.WriteLine(string.Create(inv,
                $"| {head} | {label} ({rows.Count}) | {Percentile(ms, 50):F0} | {Percentile(ms, 95):F0} | {Percentile(ms, 99):F0} | {ms[^1]:F0} |"));
        }
        return all.Count == ok.Count ? 0 : 1;
    }

    /// <summary>λ₂ with 6 decimals, not a multiple of 0.01 (the app rounds it to one: answers that came from the cache are skipped).</summary>
    private static double[] OffGrid(Random random)
    {
        double l2;
        do l2 = Math.Round(random.NextDouble(), 6);
        while (Math.Abs(l2 * 100 - Math.Round(l2 * 100)) < 1e-9);
        return [1 - l2, l2];
    }

    /// <summary>One soup request as the page makes it; a failure is a sample, with one line on stderr.</summary>
    private static async Task<Sample> GetAsync(HttpClient http, string id, double[] lambda)
    {
        string query = string.Join(",", lambda.Select(l => l.ToString("R", CultureInfo.InvariantCulture)));
        var clock = Stopwatch.StartNew();
        try
        {
            using HttpResponseMessage response = await http.GetAsync($"api/runs/{id}/soup?lambda={query}");
            byte[] body = await response.Content.ReadAsByteArrayAsync();
            double ms = clock.Elapsed.TotalMilliseconds;
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"λ = {query}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
                return new Sample(ms, false, false, 0, 0);
            }
            using JsonDocument doc = JsonDocument.Parse(body);
            JsonElement root = doc.RootElement;
            return new Sample(ms, true, root.GetProperty("cached").GetBoolean(), root.GetProperty("serverMs").GetDouble(), root.GetProperty("length").GetInt32());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
        {
            Console.Error.WriteLine($"λ = {query}: {e.GetType().Name}: {e.Message}");
            return new Sample(clock.Elapsed.TotalMilliseconds, false, false, 0, 0);
        }
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
}
