namespace RewardedSoups.Cli;

/// <summary>
/// What every command gets: its output streams and the cancellation of Ctrl+C / SIGTERM.
/// <see cref="Run"/> maps exceptions to exit statuses and one-line messages, so no command prints a
/// stack trace as its only explanation (set SOUP_DEBUG=1 to see one). Messages are printed through
/// <see cref="OneLine"/>: whatever text from a file reached them cannot break the line or drive the terminal.
/// </summary>
public sealed class CommandContext(TextWriter stdout, TextWriter stderr, CancellationToken cancel)
{
    public TextWriter Out { get; } = stdout;

    public TextWriter Error { get; } = stderr;

    public CancellationToken Cancel { get; } = cancel;

    /// <summary>Progress goes to stderr as a live bar on a terminal, as plain lines otherwise.</summary>
    public bool ErrorIsTerminal => ReferenceEquals(Error, Console.Error) && !Console.IsErrorRedirected;

    public int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (SoupInputException e)
        {
            Error.WriteLine($"error: {OneLine(e.Message)}");
            Debug(e);
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            Error.WriteLine("interrupted: nothing half-written was left (a merge writes nothing; a training keeps its last update and resumes when run again)");
            return ExitCodes.Interrupted;
        }
        catch (Numerics.NumericalFailureException e)
        {
            // A diverged training, a non-finite result, wrong kernels: not the user's input, nothing was written.
            Error.WriteLine($"error: {e.Message}");
            Debug(e);
            return ExitCodes.Failure;
        }
        catch (IOException e)
        {
            Error.WriteLine($"error: {OneLine(e.Message)}");
            Debug(e);
            return ExitCodes.Failure;
        }
        catch (UnauthorizedAccessException e)
        {
            Error.WriteLine($"error: {OneLine(e.Message)}");
            Debug(e);
            return ExitCodes.Failure;
        }
    }

    /// <summary>Longest message printed: past it the message is cut (its values are already cut where they are quoted).</summary>
    public const int MaxMessageChars = 4000;

    /// <summary>A message as one safe line: control characters escaped, cut at <see cref="MaxMessageChars"/>.</summary>
    public static string OneLine(string message) => Printable.Escape(message, MaxMessageChars);

    private void Debug(Exception e)
    {
        if (Environment.GetEnvironmentVariable("SOUP_DEBUG") == "1") Error.WriteLine(e);
    }
}
