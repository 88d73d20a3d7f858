using System.Diagnostics;
using System.Globalization;
using RewardedSoups.Runner.Slurm;

namespace RewardedSoups.Bench;

/// <summary>
/// Wall time of a whole experiment through Slurm against the same experiment run locally, in one run:
/// <c>soup run CONFIG</c> and <c>soup run CONFIG --executor slurm --wait</c> alternate (each in a fresh run
/// folder), on the private single-node Slurm of <c>scripts/slurm-local.sh</c> (started here unless SLURM_CONF
/// points at a cluster already). Where Slurm's extra time goes: from its job-completion log, each job's
/// dispatch latency — its start minus the moment it became runnable (the end of the last job it depends on,
/// or its submission) — and the number of dependency levels the run waits through. The two results.json
/// are compared (they must be equal). Times in the completion log are whole seconds.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- slurm [--config tiny] [--runs 2]
/// </summary>
public static class SlurmBenchmark
{
    public static int Run(string[] args)
    {
        string config = Program.Option(args, "--config", "tiny");
        int runs = int.Parse(Program.Option(args, "--runs", "2"), CultureInfo.InvariantCulture);
        string work = Path.GetFullPath(Path.Combine("bench-out", "slurm"));
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        string? cluster = null;
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SLURM_CONF")))
        {
            cluster = Path.Combine(work, "cluster");
            Script("start", cluster);
            Environment.SetEnvironmentVariable("SLURM_CONF", Path.Combine(cluster, "slurm.conf"));
        }
        try
        {
            var local = new List<double>();
            var slurm = new List<double>();
            var latencies = new List<double>();
            int levels = 0;
            for (int r = 0; r < runs; r++)
            {
                string l = Path.Combine(work, $"local-{r}"), s = Path.Combine(work, $"slurm-{r}");
                // Alternate which goes first, so a drift of the machine's speed does not favour one.
                if (r % 2 == 0)
                {
                    local.Add(Soup("run", config, "--out", l));
                    slurm.Add(Soup("run", config, "--out", s, "--executor", "slurm", "--wait"));
                }
                else
                {
                    slurm.Add(Soup("run", config, "--out", s, "--executor", "slurm", "--wait"));
                    local.Add(Soup("run", config, "--out", l));
                }
                if (File.ReadAllText(Path.Combine(l, "results.json")) != File.ReadAllText(Path.Combine(s, "results.json")))
                    throw new InvalidOperationException($"{s}/results.json differs from {l}/results.json");
                (List<double> lat, int lv) = Dispatch(s, Path.Combine(Path.GetDirectoryName(Environment.GetEnvironmentVariable("SLURM_CONF")!)!, "log", "jobcomp.log"));
                latencies.AddRange(lat);
                levels = lv;
                Console.Error.WriteLine($"run {r + 1}: local {local[^1]:F1} s, slurm {slurm[^1]:F1} s, ratio {slurm[^1] / local[^1]:F2}; " +
                                        $"dispatch latency mean {lat.Average():F1} s, max {lat.Max():F0} s over {lat.Count} jobs, {lv} dependency levels");
            }
            var ratios = slurm.Zip(local, (a, b) => a / b).ToList();
            Console.WriteLine();
            Console.WriteLine("| configuration | local s (best / median) | Slurm s (best / median) | Slurm / local (best) | paired ratios | dispatch latency per job (mean / max) | dependency levels |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {config} | {local.Min():F1} / {Program.Median(local):F1} | {slurm.Min():F1} / {Program.Median(slurm):F1} | **{slurm.Min() / local.Min():F2}** | " +
                $"{string.Join(", ", ratios.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} | {latencies.Average():F1} s / {latencies.Max():F0} s | {levels} |"));
            return 0;
        }
        finally
        {
            if (cluster is not null) Script("stop", cluster);
        }
    }

    /// <summary>Runs the CLI (the soup.dll beside this benchmark) and returns its wall time; fails on a non-zero exit.</summary>
    private static double Soup(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "soup.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using Process p = Process.Start(start)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        double seconds = clock.Elapsed.TotalSeconds;
        if (p.ExitCode != 0) throw new InvalidOperationException($"soup {string.Join(' ', args)} failed: {err.Result}");
        return seconds;
    }

    /// <summary>Each Slurm job's start minus when it became runnable, and the depth of the dependency graph.</summary>
    private static (List<double> Latencies, int Levels) Dispatch(string run, string jobcomp)
    {
        SlurmSubmissions submitted = SlurmExecutor.ReadSubmissions(run);
        var times = new Dictionary<string, (DateTime Submit, DateTime Start, DateTime End)>();
        foreach (string line in File.ReadLines(jobcomp))
        {
            var fields = line.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
            if (!fields.TryGetValue("JobId", out string? id)) continue;
            static DateTime T(string text) => DateTime.ParseExact(text, "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
            times[id] = (T(fields["SubmitTime"]), T(fields["StartTime"]), T(fields["EndTime"]));
        }
        var plan = Runner.ExperimentRunner.Open(run, Cli.Families.Catalogue);
        var latencies = new List<double>();
        var level = new Dictionary<string, int>();
        foreach (Runner.Job job in plan.Jobs)
        {
            if (!submitted.Jobs.TryGetValue(job.Id, out string? slurmId) || !times.TryGetValue(slurmId, out var t)) continue;
            DateTime ready = t.Submit;
            foreach (string dep in job.DependsOn)
                if (submitted.Jobs.TryGetValue(dep, out string? d) && times.TryGetValue(d, out var td) && td.End > ready) ready = td.End;
            latencies.Add(Math.Max(0, (t.Start - ready).TotalSeconds));
        }
        int Level(Runner.Job job) => level.TryGetValue(job.Id, out int l) ? l
            : level[job.Id] = 1 + job.DependsOn.Select(d => Level(plan.Get(d))).DefaultIfEmpty(0).Max();
        return (latencies, plan.Jobs.Max(Level));
    }

    private static void Script(string action, string dir)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(RepositoryRoot(), "scripts", "slurm-local.sh"), action, dir }) start.ArgumentList.Add(a);
        using Process p = Process.Start(start)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"slurm-local.sh {action}: {err.Result}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RewardedSoups.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
