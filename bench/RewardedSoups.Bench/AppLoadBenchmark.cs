using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace RewardedSoups.Bench;

/// <summary>
/// The app's limits under load (issue 13, item 1): <c>soup serve</c> runs as a child process on
/// 127.0.0.1, on a small real run (by default a tiny 3-expert cheetah run made here, so that random λ
/// stay distinct after rounding to the page's 0.01: 5,151 points), its <c>app-cache/</c> emptied first.
/// <list type="number">
/// <item>Single fresh λ, one at a time: client latency of this build's server, alternated λ by λ with
/// a baseline server (<c>--baseline SOUP_DLL</c>, e.g. main's build) on its own copy of the run:
/// the median of the paired ratios this/baseline.</item>
/// <item>Abandoned requests (<c>--abandon A</c>): A connections ask for fresh λ at once and leave
/// after 2 s; then one fresh λ is timed.</item>
/// <item>Load: CLIENTS concurrent clients ask for LAMBDAS random λ in all (uniform on the simplex, 6
/// decimals); a client answered 503 waits Retry-After (at most 5 s) and asks again, 3 times at most.
/// Reported: answers by status, latency of the answered, the cache on disk against its limit (also
/// its largest size seen, sampled every 0.5 s), and the server's resident memory (VmRSS) over time.</item>
/// </list>
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- app-load [--run RUN_DIR] [--clients 50] [--lambdas 2000]
/// [--cache-mb 64] [--max-queued Q] [--single 20] [--baseline SOUP_DLL] [--abandon 400] [--seed 1] [--dir bench-out/app-load]
/// [--server SOUP_DLL] (another build serves instead of this one, given no limits: the load before the change).
/// </summary>
public static class AppLoadBenchmark
{
    private const int MaxAttempts = 3;

    private sealed record Answer(int Status, double Ms, bool Cached, double RetryAfter, double ServerMs = double.NaN);

    /// <summary>A tiny run with three experts (real MuJoCo, real PPO; about half a minute).</summary>
    private const string ThreeExpertConfig = """
        # Made by the app-load benchmark: the tiny cheetah run with a third expert, so that λ spans a triangle.
        name: tiny-cheetah-3
        task: cheetah
        seed: 1
        repeats: 1
        pretrain:
          reward: {name: default, terms: {forward_velocity: 1, control_cost: -0.1}}
          steps: 512
        experts:
          rewards: [risky, cautious, {name: calm, terms: {forward_velocity: 0.2, control_cost: -1}}]
          steps: 512
        soups:
          divisions: 2
        evaluation:
          episodes: 2
          seeds: [1000]
        ppo: {envs: 4, rollout_steps: 64, minibatches: 2, epochs: 2}
        """;

    public static int Run(string[] args)
    {
        string dir = Path.GetFullPath(Program.Option(args, "--dir", Path.Combine("bench-out", "app-load")));
        int clients = Int(args, "--clients", 50);
        int lambdas = Int(args, "--lambdas", 2000);
        int cacheMb = Int(args, "--cache-mb", 64);
        int maxQueued = Int(args, "--max-queued", 2 * Environment.ProcessorCount);
        int single = Int(args, "--single", 20);
        int abandon = Int(args, "--abandon", 400);
        int seed = Int(args, "--seed", 1);
        string? baseline = Program.Option(args, "--baseline", "") is { Length: > 0 } b ? Path.GetFullPath(b) : null;
        string? other = Program.Option(args, "--server", "") is { Length: > 0 } o ? Path.GetFullPath(o) : null;
        foreach ((string name, string? dll) in new[] { ("--baseline", baseline), ("--server", other) })
        {
            if (dll is not null && !File.Exists(dll))
            {
                Console.Error.WriteLine($"{name} {dll}: no such file (give another build's soup.dll)");
                return 2;
            }
        }
        Directory.CreateDirectory(dir);
        string run = Program.Option(args, "--run", "") is { Length: > 0 } r ? Path.GetFullPath(r) : MakeThreeExpertRun(dir);
        return RunAsync(dir, run, clients, lambdas, cacheMb, maxQueued, single, abandon, seed, baseline, other).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string dir, string run, int clients, int lambdas, int cacheMb, int maxQueued, int single, int abandon, int seed, string? baseline, string? other)
    {
        int experts = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "results.json"))).RootElement.GetProperty("rewards").GetArrayLength();
        // --server: another build serves (e.g. main's, to measure the load before this change); it is given no limits.
        string soup = other ?? Path.Combine(AppContext.BaseDirectory, "soup.dll");
        string[] limits = other is null ? ["--cache-mb", Str(cacheMb), "--max-queued", Str(maxQueued)] : [];
        string cache = Path.Combine(run, "app-cache");
        if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
        await using Server server = await Server.StartAsync(soup, run, limits);
        await using Server? old = baseline is null ? null : await Server.StartAsync(baseline, CopyRun(run, Path.Combine(dir, "baseline-run")), []);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Math.Max(clients, abandon) + 4, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            Timeout = TimeSpan.FromSeconds(120),
        };
        var random = new Random(seed);
        var asked = new HashSet<string>(StringComparer.Ordinal); // fresh λ (on the 0.01 grid) used so far
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"run {run} ({experts} experts); server: {soup} {string.Join(" ", limits)}; {Environment.ProcessorCount} cores; load average {File.ReadAllText("/proc/loadavg").Trim()}");

        // 1. Single fresh λ, one at a time (after 3 to warm up each server: JIT, libtorch).
        for (int i = 0; i < 3; i++)
        {
            string l = FreshOnGrid(random, experts, asked);
            await GetAsync(http, server, l);
            if (old is not null) await GetAsync(http, old, l);
        }
        var mine = new List<double>();
        var theirs = new List<double>();
        var ratios = new List<double>();
        var mineServer = new List<double>();
        var theirsServer = new List<double>();
        for (int i = 0; i < single; i++)
        {
            string l = FreshOnGrid(random, experts, asked);
            // Alternate which server goes first, so that neither always follows the other.
            Answer a, o = new(0, 0, false, 0);
            if (old is not null && i % 2 == 1) o = await GetAsync(http, old, l);
            a = await GetAsync(http, server, l);
            if (old is not null && i % 2 == 0) o = await GetAsync(http, old, l);
            if (a.Status != 200 || a.Cached) throw new InvalidOperationException($"fresh λ {l}: {a.Status}, cached {a.Cached}");
            mine.Add(a.Ms);
            mineServer.Add(a.ServerMs);
            if (old is null) continue;
            if (o.Status != 200 || o.Cached) throw new InvalidOperationException($"fresh λ {l} on the baseline: {o.Status}, cached {o.Cached}");
            theirs.Add(o.Ms);
            theirsServer.Add(o.ServerMs);
            ratios.Add(a.Ms / o.Ms);
        }
        Console.WriteLine();
        if (single > 0) Console.WriteLine($"1. A fresh λ, one request at a time ({single} λ, client latency):");
        if (single > 0) Console.WriteLine(string.Create(inv, $"   this build: median {Program.Median(mine):F0} ms (min {mine.Min():F0}, max {mine.Max():F0}); server time (serverMs) median {Program.Median(mineServer):F0} ms"));
        if (old is not null && single > 0)
        {
            Console.WriteLine(string.Create(inv, $"   baseline:   median {Program.Median(theirs):F0} ms (min {theirs.Min():F0}, max {theirs.Max():F0}); server time (serverMs) median {Program.Median(theirsServer):F0} ms"));
            Console.WriteLine(string.Create(inv, $"   this / baseline: median of paired ratios **{Program.Median(ratios):F2}**; ratio of medians {Program.Median(mine) / Program.Median(theirs):F2}"));
        }
        await using (old) { } // stopped now: the load below is this build's alone
        long rssWarm = server.RssKiB(), anonWarm = server.AnonKiB();

        // 2. Abandoned requests: each leaves after 2 s, answered or not.
        if (abandon > 0)
        {
            var clock = Stopwatch.StartNew();
            int[] outcome = await Task.WhenAll(Enumerable.Range(0, abandon).Select(async _ =>
            {
                string l = Random(random, experts);
                using var leave = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    using HttpResponseMessage response = await http.GetAsync(server.Soup(l), leave.Token);
                    await response.Content.ReadAsByteArrayAsync(leave.Token);
                    return (int)response.StatusCode;
                }
                catch (OperationCanceledException)
                {
                    return 0;
                }
            }));
            double spent = clock.Elapsed.TotalSeconds;
            Answer next = await GetAsync(http, server, FreshOnGrid(random, experts, asked));
            Console.WriteLine();
            Console.WriteLine($"2. {abandon} requests at once, each abandoned after 2 s ({spent:F1} s):");
            Console.WriteLine($"   200: {outcome.Count(s => s == 200)}, 503: {outcome.Count(s => s == 503)}, abandoned unanswered: {outcome.Count(s => s == 0)}, other: {outcome.Count(s => s is not (0 or 200 or 503))}");
            Console.WriteLine(string.Create(inv, $"   then a fresh λ: {next.Status} in **{next.Ms:F0} ms** (cached {next.Cached})"));
        }

        // 3. Load.
        string[] work = Enumerable.Range(0, lambdas).Select(_ => Random(random, experts)).ToArray();
        int nextIndex = -1;
        var answers = new List<Answer>[clients];
        int gaveUp = 0;
        var rss = new List<(double Done, long KiB, long Anon)> { (0, server.RssKiB(), server.AnonKiB()) };
        long largestCache = 0;
        using var stopSampling = new CancellationTokenSource();
        var load = Stopwatch.StartNew();
        Task sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                largestCache = Math.Max(largestCache, CacheBytes(cache));
                lock (rss) rss.Add((Math.Min(1.0, (Volatile.Read(ref nextIndex) + 1.0) / lambdas), server.RssKiB(), server.AnonKiB()));
                try { await Task.Delay(500, stopSampling.Token); } catch (OperationCanceledException) { }
            }
        });
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var mineAnswers = answers[c] = [];
            for (int i = Interlocked.Increment(ref nextIndex); i < work.Length; i = Interlocked.Increment(ref nextIndex))
            {
                for (int attempt = 1; ; attempt++)
                {
                    Answer a = await GetAsync(http, server, work[i]);
                    mineAnswers.Add(a);
                    if (a.Status != 503) break;
                    if (attempt == MaxAttempts)
                    {
                        Interlocked.Increment(ref gaveUp);
                        break;
                    }
                    await Task.Delay(TimeSpan.FromSeconds(Math.Clamp(a.RetryAfter, 0.1, 5)));
                }
            }
        })));
        double seconds = load.Elapsed.TotalSeconds;
        await stopSampling.CancelAsync();
        await sampler;
        largestCache = Math.Max(largestCache, CacheBytes(cache));
        long rssEnd = server.RssKiB(), anonEnd = server.AnonKiB();

        List<Answer> all = answers.SelectMany(a => a).ToList();
        List<Answer> ok = all.Where(a => a.Status == 200).ToList();
        Console.WriteLine();
        Console.WriteLine($"3. {clients} clients, {lambdas} random λ ({work.Distinct().Count()} distinct as asked), {seconds:F0} s; a 503 is retried after Retry-After, {MaxAttempts} attempts at most:");
        Console.WriteLine();
        Console.WriteLine("| requests | 200 | 503 | other | λ answered | λ given up | p50 ms | p95 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(inv,
            $"| {all.Count} | {ok.Count} | {all.Count(a => a.Status == 503)} | {all.Count(a => a.Status is not (200 or 503))} | {lambdas - gaveUp} | {gaveUp} | {Percentile(ok, 50):F0} | **{Percentile(ok, 95):F0}** | {Percentile(ok, 99):F0} | {Percentile(ok, 100):F0} |"));
        foreach ((string label, List<Answer> rows) in new[] { ("cached", ok.Where(a => a.Cached).ToList()), ("computed", ok.Where(a => !a.Cached).ToList()) })
        {
            if (rows.Count > 0)
                Console.WriteLine(string.Create(inv, $"   {label} ({rows.Count}): p50 {Percentile(rows, 50):F0} ms, p95 {Percentile(rows, 95):F0} ms, max {Percentile(rows, 100):F0} ms"));
        }
        int files = Directory.Exists(cache) ? Directory.GetFiles(cache, "soup-*.json").Length : 0;
        Console.WriteLine(string.Create(inv,
            $"   cache: {files} files, {CacheBytes(cache) / 1048576.0:F1} MiB at the end, {largestCache / 1048576.0:F1} MiB at most (sampled); limit {(other is null ? $"{cacheMb} MiB" : "none")}"));
        List<(double Done, long KiB, long Anon)> timeline;
        lock (rss) timeline = [.. rss];
        string At(double done, Func<(double Done, long KiB, long Anon), long> field, long end) =>
            (timeline.Where(t => t.Done >= done).Select(field).FirstOrDefault(end) / 1024.0).ToString("F0", inv);
        foreach ((string label, Func<(double Done, long KiB, long Anon), long> field, long warm, long end) in
                 new[] { ("RSS", (Func<(double Done, long KiB, long Anon), long>)(t => t.KiB), rssWarm, rssEnd), ("of which anonymous", t => t.Anon, anonWarm, anonEnd) })
        {
            Console.WriteLine(string.Create(inv,
                $"   server {label} (MiB): after warm-up {warm / 1024.0:F0}; at 10% of the λ {At(0.1, field, end)}, 25% {At(0.25, field, end)}, 50% {At(0.5, field, end)}, 75% {At(0.75, field, end)}, end {end / 1024.0:F0}; largest {timeline.Max(field) / 1024.0:F0}"));
        }
        return all.Any(a => a.Status is not (200 or 503)) ? 1 : 0;
    }

    /// <summary>The tiny 3-expert run in DIR/run-3 (made once, reused).</summary>
    private static string MakeThreeExpertRun(string dir)
    {
        string run = Path.Combine(dir, "run-3");
        if (File.Exists(Path.Combine(run, "results.json"))) return run;
        string config = Path.Combine(dir, "tiny-3.yaml");
        File.WriteAllText(config, ThreeExpertConfig);
        if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
        Console.Error.WriteLine($"making {run} (soup run {config})…");
        var start = new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(AppContext.BaseDirectory, "soup.dll"), "run", config, "--out", run }, RedirectStandardOutput = true };
        using Process process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"soup run {config} failed ({process.ExitCode})");
        return run;
    }

    /// <summary>A copy of a run folder without its app cache (the baseline server's own).</summary>
    private static string CopyRun(string from, string to)
    {
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative.StartsWith("app-cache", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
            File.Copy(file, Path.Combine(to, relative));
        }
        return to;
    }

    /// <summary>A λ uniform on the simplex (normalised exponentials), 6 decimals, the last weight making the sum exactly 1.</summary>
    private static string Random(Random random, int experts)
    {
        double[] e = Enumerable.Range(0, experts).Select(_ => -Math.Log(1 - random.NextDouble())).ToArray();
        double total = e.Sum();
        decimal[] w = e.Select(x => Math.Round((decimal)(x / total), 6)).ToArray();
        w[^1] = 1 - w[..^1].Sum();
        if (w[^1] < 0) return Random(random, experts);
        return string.Join(",", w.Select(x => x.ToString(CultureInfo.InvariantCulture)));
    }

    /// <summary>A λ on the 0.01 grid not asked before (so that neither server has it cached).</summary>
    private static string FreshOnGrid(Random random, int experts, HashSet<string> asked)
    {
        while (true)
        {
            int[] units = new int[experts];
            int left = 100;
            for (int i = 0; i < experts - 1; i++) left -= units[i] = random.Next(0, left + 1);
            units[^1] = left;
            string l = string.Join(",", units.Select(u => (u / 100m).ToString(CultureInfo.InvariantCulture)));
            if (asked.Add(l)) return l;
        }
    }

    private static async Task<Answer> GetAsync(HttpClient http, Server server, string lambda)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using HttpResponseMessage response = await http.GetAsync(server.Soup(lambda));
            byte[] body = await response.Content.ReadAsByteArrayAsync();
            double ms = clock.Elapsed.TotalMilliseconds;
            int status = (int)response.StatusCode;
            if (status == 200)
            {
                // The two last fields, without parsing the whole soup.
                string tail = System.Text.Encoding.UTF8.GetString(body.AsSpan(Math.Max(0, body.Length - 64)));
                int at = tail.LastIndexOf("\"serverMs\":", StringComparison.Ordinal);
                double serverMs = at < 0 ? double.NaN : double.Parse(tail[(at + "\"serverMs\":".Length)..].TrimEnd('}', ' ', '\n'), CultureInfo.InvariantCulture);
                return new Answer(status, ms, tail.Contains("\"cached\":true", StringComparison.Ordinal), 0, serverMs);
            }
            if (status != 503) Console.Error.WriteLine($"λ = {lambda}: {status} {System.Text.Encoding.UTF8.GetString(body)}");
            return new Answer(status, ms, false, response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 1);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
        {
            Console.Error.WriteLine($"λ = {lambda}: {e.GetType().Name}: {e.Message}");
            return new Answer(-1, clock.Elapsed.TotalMilliseconds, false, 0);
        }
    }

    private static long CacheBytes(string cache)
    {
        try
        {
            return Directory.Exists(cache) ? new DirectoryInfo(cache).EnumerateFiles("soup-*.json").Sum(f => { try { return f.Length; } catch (IOException) { return 0; } }) : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Nearest-rank percentile of the answers' latency (100: the largest).</summary>
    private static double Percentile(List<Answer> answers, double p) =>
        answers.Count == 0 ? double.NaN : AppBenchmark.Percentile(answers.Select(a => a.Ms).Order().ToArray(), p);

    private static int Int(string[] args, string name, int fallback) => int.Parse(Program.Option(args, name, Str(fallback)), CultureInfo.InvariantCulture);

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>soup serve RUN</c> as a child process on a free loopback port; stopped (killed, with its children) when disposed.</summary>
    private sealed class Server : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _id;
        private bool _stopped;

        private Server(Process process, Uri root, string id)
        {
            _process = process;
            Root = root;
            _id = id;
        }

        public Uri Root { get; }

        public static async Task<Server> StartAsync(string soupDll, string run, string[] options)
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { soupDll, "serve", run, "--host", "127.0.0.1", "--port", Str(port) }.Concat(options)) start.ArgumentList.Add(a);
            Process process = Process.Start(start)!;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[serve {port}] {e.Data}"); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[serve {port}] {e.Data}"); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var root = new Uri($"http://127.0.0.1:{port}/");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var clock = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited) throw new InvalidOperationException($"soup serve exited ({process.ExitCode}); see its lines above");
                try
                {
                    string runs = await http.GetStringAsync(new Uri(root, "api/runs"));
                    string id = JsonDocument.Parse(runs).RootElement[0].GetProperty("id").GetString()!;
                    return new Server(process, root, id);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    if (clock.Elapsed > TimeSpan.FromMinutes(2)) throw new InvalidOperationException("soup serve did not answer within 2 minutes");
                    await Task.Delay(200);
                }
            }
        }

        public Uri Soup(string lambda) => new(Root, $"api/runs/{_id}/soup?lambda={lambda}");

        /// <summary>The server's resident memory (VmRSS), KiB.</summary>
        public long RssKiB() => Status("VmRSS:");

        /// <summary>The anonymous part of it (RssAnon: heaps, not the pages of mapped libraries such as libtorch), KiB.</summary>
        public long AnonKiB() => Status("RssAnon:");

        private long Status(string field)
        {
            try
            {
                string? line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
                return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return -1;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_stopped) return;
            _stopped = true;
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
