using System.CommandLine;
using RewardedSoups.App;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup serve [RUN_DIR ...] [--port P] [--host H]</c>: the interactive app for finished runs.</summary>
public static class ServeCommand
{
    public static Command Create(CommandContext context)
    {
        var runs = new Argument<string[]>("run-dirs") { Description = "Finished run folders (default: every run under runs/ with a results.json).", Arity = ArgumentArity.ZeroOrMore };
        var port = new Option<int>("--port") { Description = "TCP port.", DefaultValueFactory = _ => 5080 };
        var host = new Option<string>("--host") { Description = "Address to bind (default: loopback only).", DefaultValueFactory = _ => "127.0.0.1" };
        var command = new Command("serve", "Serve the interactive app: Pareto fronts, any λ's soup computed and replayed live.") { runs, port, host };
        command.SetAction(parsed => context.Run(() =>
        {
            string[] dirs = parsed.GetValue(runs) is { Length: > 0 } given ? given : DefaultRuns();
            if (dirs.Length == 0) throw new SoupInputException("no runs to serve: give run folders, or run ./soup demo first");
            int p = parsed.GetValue(port);
            if (p is < 1 or > 65535) throw new SoupInputException($"--port must be 1–65535, got {p}");
            string webRoot = Path.Combine(AppContext.BaseDirectory, "wwwroot");
            if (!File.Exists(Path.Combine(webRoot, "vendor", "plotly.min.js")))
                throw new SoupInputException("plotly.js is missing from the app; ./soup installs it (npm package plotly.js-dist-min in src/RewardedSoups.App/web)");
            var app = AppServer.Build(dirs, TaskCatalog.Catalogue, parsed.GetValue(host)!, p, webRoot);
            context.Out.WriteLine($"serving {dirs.Length} run(s) at http://{parsed.GetValue(host)}:{p}/ (Ctrl+C stops)");
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
