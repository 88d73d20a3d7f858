using System.Diagnostics;
using RewardedSoups.Cli;

namespace RewardedSoups.Tests;

/// <summary>Runs the CLI in-process with captured output, or the real <c>./soup</c> script as a child.</summary>
public static class CliRunner
{
    public sealed record Result(int Exit, string Out, string Err)
    {
        public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = Program.Run(args, stdout, stderr);
        return new Result(exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Runs the CLI as a child process (<c>dotnet soup.dll ARGS</c>, the assembly <c>soup run</c> starts its jobs with), with
    /// MKL's reproducible mode as a run sets it. For jobs whose numbers a test compares: libtorch's thread count is one
    /// per process, and in-process commands of other tests running in parallel set it (train, eval and job do), which
    /// changes a running training's rounding.
    /// </summary>
    public static Result RunProcess(params string[] args) => RunProcess(new Dictionary<string, string>(), args);

    /// <summary><see cref="RunProcess(string[])"/> with environment variables set for the child only (e.g. its own SOUP_CACHE).</summary>
    public static Result RunProcess(IReadOnlyDictionary<string, string> environment, params string[] args) => RunProcess(environment, setMkl: true, args);

    /// <summary>
    /// <see cref="RunProcess(IReadOnlyDictionary{string, string}, string[])"/>; with <paramref name="setMkl"/> false the child
    /// gets no <c>MKL_CBWR</c> at all, as a user's shell starts it (the program then sets MKL's mode itself, loading libtorch to do so).
    /// </summary>
    public static Result RunProcess(IReadOnlyDictionary<string, string> environment, bool setMkl, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach ((string name, string value) in environment) start.Environment[name] = value;
        if (!setMkl) start.Environment.Remove("MKL_CBWR");
        else if (!start.Environment.TryGetValue("MKL_CBWR", out string? cbwr) || string.IsNullOrEmpty(cbwr)) start.Environment["MKL_CBWR"] = "AUTO,STRICT";
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (string a in args) start.ArgumentList.Add(a);
        return Capture(start);
    }

    /// <summary>The repository root: the folder above the test binaries that holds RewardedSoups.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RewardedSoups.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    public static Result RunScript(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "soup"));
        foreach (string a in args) start.ArgumentList.Add(a);
        return Capture(start);
    }

    /// <summary>Runs a child to its end, reading both streams at once (so that neither fills its pipe and blocks the child).</summary>
    private static Result Capture(ProcessStartInfo start)
    {
        using Process p = Process.Start(start)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, output, err.Result);
    }
}
