using System.Diagnostics;

namespace RewardedSoups.Runner.Slurm;

/// <summary>A Slurm job's state as <c>squeue -t all</c> shows it (%T and %r).</summary>
public sealed record SlurmJobState(string Id, string State, string Reason)
{
    /// <summary>Still Slurm's to run: waiting, running, or on its way back (requeued).</summary>
    public bool Alive => State is "PENDING" or "CONFIGURING" or "RUNNING" or "COMPLETING" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED"
        or "RESIZING" or "SUSPENDED" or "SIGNALING" or "STAGE_OUT" or "RESV_DEL_HOLD" && Reason != "DependencyNeverSatisfied";

    public bool Running => State is "CONFIGURING" or "RUNNING" or "COMPLETING" or "SIGNALING" or "STAGE_OUT";
}

/// <summary>
/// Slurm's own commands (<c>sbatch</c>, <c>squeue</c>, <c>scancel</c>), run as processes: the executor works
/// with any Slurm its user can submit to, through the same commands a person would type. Each call is
/// bounded in time; a refusal is one line naming the command and what Slurm said.
/// </summary>
public sealed class SlurmClient
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    private SlurmClient()
    {
    }

    /// <summary>The client, once <c>sbatch</c>, <c>squeue</c> and <c>scancel</c> are found on PATH.</summary>
    public static SlurmClient Find()
    {
        foreach (string command in new[] { "sbatch", "squeue", "scancel" })
            if (!OnPath(command))
                throw new SoupInputException($"--executor slurm: '{command}' is not on PATH; run where Slurm's client commands are installed (or without --executor slurm)");
        return new SlurmClient();
    }

    /// <summary>Whether Slurm's commands are there (for <c>soup status</c> of a run that never used Slurm).</summary>
    public static bool Available => OnPath("squeue");

    private static bool OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, command)));

    /// <summary>Submits a batch script; returns the Slurm job id.</summary>
    public string Submit(IReadOnlyList<string> options, string script, string what)
    {
        (int exit, string output, string error) = Call("sbatch", [.. options, script]);
        // --parsable prints "ID" or "ID;CLUSTER".
        string id = output.Trim().Split(';')[0];
        if (exit != 0 || id.Length == 0 || !id.All(char.IsAsciiDigit))
            throw new SlurmException($"sbatch refused {what}: {LastLine(error, output)}");
        return id;
    }

    /// <summary>The states of those of <paramref name="ids"/> Slurm still knows (finished jobs stay known for MinJobAge, 300 s by default).</summary>
    public IReadOnlyDictionary<string, SlurmJobState> States(IReadOnlyCollection<string> ids)
    {
        var states = new Dictionary<string, SlurmJobState>();
        foreach (string[] chunk in ids.Distinct().Chunk(200))
        {
            (int exit, string output, string error) = Call("squeue", ["-h", "-t", "all", "-j", string.Join(',', chunk), "-o", "%i|%T|%r"]);
            // All ids unknown (purged): exit 1 and "Invalid job id specified".
            if (exit != 0 && error.Contains("Invalid job id", StringComparison.Ordinal)) continue;
            if (exit != 0) throw new SlurmException($"squeue failed: {LastLine(error, output)}");
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] f = line.Trim().Split('|');
                if (f.Length == 3) states[f[0]] = new SlurmJobState(f[0], f[1], f[2]);
            }
        }
        return states;
    }

    /// <summary>Cancels the jobs (those already gone are no error).</summary>
    public void Cancel(IReadOnlyCollection<string> ids)
    {
        if (ids.Count == 0) return;
        (int exit, string output, string error) = Call("scancel", [.. ids]);
        if (exit != 0 && !error.Contains("Invalid job id", StringComparison.Ordinal) && !error.Contains("already completing or completed", StringComparison.Ordinal))
            throw new SlurmException($"scancel failed: {LastLine(error, output)}");
    }

    private static string LastLine(string error, string output)
    {
        string text = error.Trim().Length > 0 ? error : output;
        string line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? "no message";
        return Printable.Escape(line, 300);
    }

    private static (int Exit, string Output, string Error) Call(string command, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        using Process p = Process.Start(start) ?? throw new SlurmException($"could not start {command}");
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        Task<string> error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(CallTimeout))
        {
            p.Kill(entireProcessTree: true);
            throw new SlurmException($"{command} did not answer within {CallTimeout.TotalSeconds:F0} s (is slurmctld up? sinfo says why)");
        }
        return (p.ExitCode, output.Result, error.Result);
    }
}

/// <summary>Slurm refused or failed a request: one line, exit status 2 where the user's settings caused it.</summary>
public sealed class SlurmException(string message) : SoupInputException(message);
