using System.CommandLine;
using RewardedSoups.App;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup serve [RUN_DIR ...] [--port P] [--host H] [--cache-mb M] [--max-queued Q]</c>: the interactive app for finished runs.</summary>
public static class ServeCommand
{
    public static Command Create(CommandContext context)
    {
        var runs = new Argument<string[]>("run-dirs") { Description = "Finished run folders (default: every run under runs/ with a results.json).", Arity = ArgumentArity.ZeroOrMore };
        var port = new Option<int>("--port") { Description = "TCP port.", DefaultValueFactory = _ => 5080 };
        var host = new Option<string>("--host") { Description = "Address to bind (default: loopback only).", DefaultValueFactory = _ => "127.0.0.1" };
        var cacheMb = new Option<int>("--cache-mb")
        {
            Description = "Size limit of each run's soup cache (RUN_DIR/app-cache), in MiB; the least recently used soups are deleted first; 0 caches nothing.",
            DefaultValueFactory = _ => AppOptions.DefaultCacheMb,
        };
        var maxQueued = new Option<int>("--max-queued")
        {
            Description = $"Soups waiting to be computed at most (default: 2 per core, here {ComputeQueue.DefaultMaxWaiting}); a request beyond is answered 503 with Retry-After.",
            DefaultValueFactory = _ => ComputeQueue.DefaultMaxWaiting,
        };
        var command = new Command("serve", "Serve the interactive app: Pareto fronts, any λ's soup computed and replayed live.") { runs, port, host, cacheMb, maxQueued };
        command.SetAction(parsed => context.Run(() =>
        {
            string[] dirs = parsed.GetValue(runs) is { Length: > 0 } given ? given : DefaultRuns();
            if (dirs.Length == 0) throw new SoupInputException("no runs to serve: give run folders, or run ./soup demo first");
            int p = parsed.GetValue(port);
            if (p is < 1 or > 65535) throw new SoupInputException($"--port must be 1–65535, got {p}");
            int mb = parsed.GetValue(cacheMb);
            if (mb is < 0 or > 1 << 20) throw new SoupInputException($"--cache-mb must be 0–1048576 (MiB), got {mb}");
            int queued = parsed.GetValue(maxQueued);
            if (queued is < 0 or > 100_000) throw new SoupInputException($"--max-queued must be 0–100000, got {queued}");
            string webRoot = Path.Combine(AppContext.BaseDirectory, "wwwroot");
            if (!File.Exists(Path.Combine(webRoot, "vendor", "plotly.min.js")))
                throw new SoupInputException("plotly.js is missing from the app; ./soup installs it (npm package plotly.js-dist-min in src/RewardedSoups.App/web)");
            var options = new AppOptions { CacheBytes = mb * (1L << 20), MaxQueued = queued };
            var app = AppServer.Build(dirs, Families.Catalogue, parsed.GetValue(host)!, p, webRoot, options);
            context.Out.WriteLine($"serving {dirs.Length} run(s) at http://{parsed.GetValue(host)}:{p}/ (cache ≤ {mb} MiB per run, ≤ {queued} soups queued; Ctrl+C stops)");
            using CancellationTokenRegistration stop = context.Cancel.Register(() => app.Lifetime.StopApplication());
            app.Run();
            return ExitCodes.Success;
        }));
        return command;
    }

    private static string[] DefaultRuns() =>
        Directory.Exists("runs")
            ? Directory.GetDirectories("runs").Where(d => File.Exists(Path.Combine(d, Runner.ResultsBuilder.ResultsFile))).Order().ToArray()
            : [];
}
