using System.CommandLine;
using RewardedSoups.Runner;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup demo</c>: the built-in experiment (<c>configs/demo.yaml</c>): the paper's locomotion study
/// on the cheetah, risky (v) against cautious (v − ‖a‖²), with the MORL baseline, over 3 training seeds,
/// within 10 minutes on 2 cores (7.1 measured). Prints the summary and where the results and the report are; re-running
/// resumes or, when finished, only rebuilds the report.
/// </summary>
public static class DemoCommand
{
    public static Command Create(CommandContext context)
    {
        var config = new Option<string>("--config") { Description = "Built-in configuration or file to run.", DefaultValueFactory = _ => "demo" };
        var output = new Option<string?>("--out") { Description = "Run folder (default: runs/NAME)." };
        var command = new Command("demo", "Run the built-in experiment: cheetah, risky vs cautious experts, soups along λ, MORL baseline, report.")
        {
            config, output,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            string name = parsed.GetValue(config)!;
            string path = RunCommand.ResolveConfig(name);
            ExperimentConfig cfg = ExperimentConfig.Load(path, Families.Catalogue);
            string dir = parsed.GetValue(output) ?? Path.Combine("runs", cfg.Name);
            context.Error.WriteLine($"demo: {cfg.Name}, {RunCommand.DescribeConfig(name, path)}, into {Path.GetFullPath(dir)}; jobs resume if interrupted");
            RunCommand.Execute(context, cfg, dir, null);
            context.Out.WriteLine($"to look at it: open {Path.GetFullPath(Path.Combine(dir, "report.html"))} in a browser, or explore it live: ./soup serve {dir}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
