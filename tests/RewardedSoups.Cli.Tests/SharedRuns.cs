using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace RewardedSoups.Tests;

/// <summary>
/// Finished runs shared by the tests of one suite: the first test (in any test process) that asks for a configuration
/// runs it with the real <c>soup run</c>; every test gets its own copy of the finished folder to read, serve, damage or
/// resume. A run is deterministic (the same configuration and build give the same bytes, whoever runs it, and a copy
/// of a run folder is a run: its files name their jobs by paths relative to it), so sharing changes no assertion,
/// and the suite trains the text, image and locomotion pipelines' tiny runs once each instead of once per test
/// assembly that serves or checks them (docs/architecture.md, "Tests").
/// Runs are kept under <c>$SOUP_CACHE/test-runs</c> (./test.sh makes SOUP_CACHE a fresh folder for every suite), keyed
/// by the configuration's text and the build of the program (the module version ids of the CLI and the project's
/// assemblies it uses), so a rebuild never meets a run of other code; without SOUP_CACHE, a folder of this process.
/// Test processes running beside each other take turns by a lock file: one runs, the others wait for it.
/// </summary>
public static class SharedRuns
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string? cache = Environment.GetEnvironmentVariable("SOUP_CACHE");
        if (!string.IsNullOrEmpty(cache)) return Path.Combine(cache, "test-runs");
        string own = Path.Combine(Path.GetTempPath(), "soup-tests", "test-runs-" + Guid.NewGuid().ToString("N"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(own, recursive: true); }
            catch (IOException) { }
        };
        return own;
    });

    /// <summary>
    /// The tiny locomotion run with soups by four merge methods (a CLI test checks its results, the app's tests serve it):
    /// one text, so that both share one run.
    /// </summary>
    public static string TinyWithMethods() => File.ReadAllText(Cli.Commands.RunCommand.ResolveConfig("tiny")).Replace("soups:\n  step: 0.5\n",
        "soups:\n  step: 0.5\n  methods: [linear, {method: ties, density: 0.5}, {method: dare_ties, density: 0.5, seed: 2}, slerp]\n", StringComparison.Ordinal);

    /// <summary>
    /// Copies the finished run of <paramref name="config"/> (a built-in name, or a file: its text is what counts) into
    /// <paramref name="destination"/> (which must not exist), running it first if no test of this suite has; returns
    /// the output of <c>soup run</c> that made it. A run that fails is not kept: the next test to ask runs it again.
    /// </summary>
    public static CliRunner.Result CopyTo(string config, string destination)
    {
        string path = File.Exists(config) ? config : Cli.Commands.RunCommand.ResolveConfig(config);
        string text = File.ReadAllText(path);
        string key = Key(text);
        string folder = Path.Combine(Root.Value, key);
        Directory.CreateDirectory(Root.Value);
        CliRunner.Result made;
        using (FileStream held = Lock(folder + ".lock"))
        {
            // Only a run that succeeded is kept: its output in two files, then the marker that says it is complete.
            string done = Path.Combine(folder, "done"), stdout = Path.Combine(folder, "stdout.txt"), stderr = Path.Combine(folder, "stderr.txt");
            if (File.Exists(done)) made = new CliRunner.Result(0, File.ReadAllText(stdout), File.ReadAllText(stderr));
            else
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); // a failed or killed attempt
                Directory.CreateDirectory(folder);
                // The configuration under its own name (a run records it), so every asker's run is the same run.
                string copy = Path.Combine(folder, Path.GetFileName(path));
                File.WriteAllText(copy, text);
                made = CliRunner.Run("run", copy, "--out", Path.Combine(folder, "run"));
                if (made.Exit != 0) return made;
                File.WriteAllText(stdout, made.Out);
                File.WriteAllText(stderr, made.Err);
                File.WriteAllText(done, "");
            }
        }
        CopyFolder(Path.Combine(folder, "run"), destination);
        return made;
    }

    /// <summary>The configuration's text and the build: the CLI's assembly and every project assembly it references, by module version id.</summary>
    private static string Key(string configText)
    {
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([typeof(Cli.Program).Assembly]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            Assembly assembly = pending.Pop();
            if (!seen.Add(assembly.GetName().Name!)) continue;
            ids.Add(assembly.GetName().Name + ":" + assembly.ManifestModule.ModuleVersionId);
            foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
                if (reference.Name!.StartsWith("RewardedSoups.", StringComparison.Ordinal)) pending.Push(Assembly.Load(reference));
        }
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(configText + "\n" + string.Join("\n", ids)));
        return Convert.ToHexStringLower(hash)[..16];
    }

    private static FileStream Lock(string path)
    {
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) { Thread.Sleep(200); } // another test process is making this run
        }
    }

    private static void CopyFolder(string from, string to)
    {
        if (Directory.Exists(to)) throw new IOException($"{to} exists");
        Directory.CreateDirectory(to);
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }
}
