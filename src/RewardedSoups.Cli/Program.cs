using System.CommandLine;
using System.Runtime.InteropServices;
using RewardedSoups.Cli.Commands;

namespace RewardedSoups.Cli;

/// <summary>
/// The <c>soup</c> command line. Exit status: 0 success, 2 bad input (a usage error, or a file, weight
/// or value at fault: <see cref="SoupInputException"/>), 1 any other failure, 130 interrupted.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // let the command unwind and delete its temporary output
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            cancel.Cancel();
        });
        try
        {
            var context = new CommandContext(stdout, stderr, cancel.Token);
            RootCommand root = BuildRoot(context);
            // A bare `soup` shows the help; an unknown command is one line naming it (with or without --help).
            if (args.Length == 0) args = ["--help"];
            else if (!args[0].StartsWith('-') && !root.Subcommands.Any(c => c.Name == args[0] || c.Aliases.Contains(args[0])))
            {
                stderr.WriteLine($"error: unknown command '{args[0]}'; commands: {string.Join(", ", root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))} (see 'soup --help')");
                return ExitCodes.BadInput;
            }
            ParseResult parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                foreach (var error in parsed.Errors) stderr.WriteLine($"error: {error.Message}");
                stderr.WriteLine($"see '{Describe(parsed)} --help'");
                return ExitCodes.BadInput;
            }
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The outermost boundary: a failure no command anticipated (a bug, or the machine). Say what
            // it was in one line; the stack trace is there for whoever asks for it.
            stderr.WriteLine($"error: unexpected {e.GetType().Name}: {CommandContext.OneLine(e.Message)} (SOUP_DEBUG=1 shows the stack trace)");
            if (Environment.GetEnvironmentVariable("SOUP_DEBUG") == "1") stderr.WriteLine(e);
            return ExitCodes.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    internal static RootCommand BuildRoot(CommandContext context)
    {
        var root = new RootCommand(
            "RewardedSoups: align one pre-trained model to several rewards by fine-tuning one expert per reward " +
            "and interpolating their weights, θ(λ) = Σ λᵢ θᵢ.")
        {
            MergeCommand.Create(context),
            InspectCommand.Create(context),
            FrontCommand.Create(context),
            TrainCommand.Create(context),
            PretrainCommand.Create(context),
            EvalCommand.Create(context),
            RunCommand.CreateRun(context),
            RunCommand.CreateJob(context),
            RunCommand.CreateReport(context),
            PreferCommand.Create(context),
            RunCommand.CreateStatus(context),
            RunCommand.CreateCancel(context),
            ServeCommand.Create(context),
            DemoCommand.Create(context),
        };
        return root;
    }

    private static string Describe(ParseResult parsed)
    {
        var names = new List<string>();
        for (var c = parsed.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, c.Command is RootCommand ? "soup" : c.Command.Name);
        return string.Join(" ", names);
    }
}

public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int BadInput = 2;
    public const int Interrupted = 130;
}
