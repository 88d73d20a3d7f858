using System.Diagnostics;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>Named pipes, for tests of code that must refuse one without opening it (an open FIFO blocks until a writer comes).</summary>
public static class Fifo
{
    /// <summary>Makes a FIFO at <paramref name="path"/> with <c>mkfifo</c>.</summary>
    public static async Task<string> Create(string path)
    {
        using Process mkfifo = Process.Start("mkfifo", [path]);
        await mkfifo.WaitForExitAsync();
        if (mkfifo.ExitCode != 0 || !File.Exists(path)) throw new InvalidOperationException($"mkfifo {path} failed (exit status {mkfifo.ExitCode})");
        return path;
    }

    /// <summary>
    /// Runs <paramref name="body"/> on a worker thread; true when it finished within 10 seconds. If not, the
    /// FIFO is opened for writing, which releases a reader blocked on it, so the test run does not hang.
    /// </summary>
    public static async Task<bool> FinishesWithoutBlocking(string fifo, Action body)
    {
        Task run = Task.Run(body);
        if (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(10))) == run)
        {
            await run; // its own failures, if any
            return true;
        }
        await using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
        return false;
    }
}
