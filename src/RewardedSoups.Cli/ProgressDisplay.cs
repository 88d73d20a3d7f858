using System.Diagnostics;
using Spectre.Console;

namespace RewardedSoups.Cli;

/// <summary>
/// Shows progress of long work on stderr: Spectre.Console's live bar on a terminal, plain lines
/// (at most one per 10% or per 5 s) when stderr is a file or a pipe, so logs stay readable.
/// </summary>
public static class ProgressDisplay
{
    /// <summary>Runs <paramref name="work"/>, which reports a monotonically growing amount done out of <paramref name="total"/>.</summary>
    public static T Run<T>(CommandContext context, string label, long total, Func<IProgress<long>, T> work)
    {
        if (context.ErrorIsTerminal)
        {
            IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            return console.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask task = ctx.AddTask(label, maxValue: Math.Max(total, 1));
                    var progress = new MaxProgress(v => task.Value = v);
                    return work(progress);
                });
        }
        var lines = new PlainLines(context.Error, label, total);
        T result = work(lines);
        lines.Finish();
        return result;
    }

    /// <summary>Workers report from several threads, possibly out of order: keep the maximum.</summary>
    private sealed class MaxProgress(Action<long> show) : IProgress<long>
    {
        private long _max;

        public void Report(long value)
        {
            long seen;
            while (value > (seen = Interlocked.Read(ref _max)))
            {
                if (Interlocked.CompareExchange(ref _max, value, seen) == seen)
                {
                    show(value);
                    return;
                }
            }
        }
    }

    private sealed class PlainLines(TextWriter error, string label, long total) : IProgress<long>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Lock _lock = new();
        private int _lastDecile;
        private TimeSpan _lastLine;
        private bool _printed;

        public void Report(long value)
        {
            lock (_lock)
            {
                // Quick work prints nothing; slow work a line per 10% or per 5 s, whichever comes first.
                if (_clock.Elapsed < TimeSpan.FromSeconds(1)) return;
                int decile = total <= 0 ? 10 : (int)Math.Min(10, value * 10 / total);
                if (decile <= _lastDecile && _clock.Elapsed - _lastLine < TimeSpan.FromSeconds(5)) return;
                if (decile >= 10) return; // the final line is Finish's
                _lastDecile = Math.Max(decile, _lastDecile);
                _lastLine = _clock.Elapsed;
                _printed = true;
                error.WriteLine($"{label}: {100.0 * value / Math.Max(total, 1):F0}% ({Units.Bytes(value)} of {Units.Bytes(total)})");
            }
        }

        public void Finish()
        {
            if (_printed) error.WriteLine($"{label}: 100% ({Units.Bytes(total)}) in {_clock.Elapsed.TotalSeconds:F1} s");
        }
    }
}
