using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RewardedSoups.Tasks;

namespace RewardedSoups.Runner.Slurm;

/// <summary>Where the jobs of a run execute.</summary>
public enum ExecutorKind
{
    /// <summary>Child processes of <c>soup run</c> on this machine.</summary>
    Local,

    /// <summary>One Slurm job per job of the plan, ordered by Slurm's dependencies.</summary>
    Slurm,
}

/// <summary>
/// The configuration's <c>executor:</c> section: where jobs run and, on Slurm, what each asks for. It is not
/// part of the experiment's identity (the resolved configuration, job keys): the same run folder can be
/// continued locally or on a cluster, and gives the same numbers either way (docs/cluster.md).
/// </summary>
public sealed partial record ExecutorSettings
{
    /// <summary>Job kinds a time limit can be given for (<see cref="KindOf"/>), and the final report job.</summary>
    public static readonly string[] JobKinds = ["init", "expert", "morl", "soup", "eval", "report"];

    public ExecutorKind Kind { get; init; } = ExecutorKind.Local;

    public string? Partition { get; init; }

    public string? Account { get; init; }

    public string? Qos { get; init; }

    /// <summary>Time limit per job kind (Slurm's formats: "MM", "HH:MM:SS", "D-HH:MM"…); a kind missing here has none.</summary>
    public IReadOnlyDictionary<string, string> Time { get; init; } = new Dictionary<string, string>();

    /// <summary>CPUs per job; null: the job's compute threads (what a local run gives it, so the same numbers).</summary>
    public int? CpusPerTask { get; init; }

    public string? Mem { get; init; }

    public string? Gres { get; init; }

    /// <summary>More <c>sbatch</c> options, each one argument (e.g. <c>--exclude=node12</c>).</summary>
    public IReadOnlyList<string> SbatchArgs { get; init; } = [];

    /// <summary>Shell lines run before the job (<c>module load …</c>, <c>export …</c>).</summary>
    public IReadOnlyList<string> Setup { get; init; } = [];

    /// <summary>Seconds before its time limit at which a job is sent USR1 to checkpoint and requeue itself.</summary>
    public int SignalSeconds { get; init; } = 120;

    public static ExecutorSettings Local { get; } = new();

    /// <summary>The kind of a job for <see cref="Time"/>: init, expert, morl, soup or eval.</summary>
    public static string KindOf(Job job) => job.Kind switch
    {
        JobKind.Train => job.Role,
        JobKind.Soup or JobKind.Ensemble => "soup",
        _ => "eval",
    };

    /// <summary>Options sbatch must not be given by hand: the executor sets them.</summary>
    private static readonly string[] Reserved =
        ["--dependency", "-d", "--output", "-o", "--error", "-e", "--job-name", "-J", "--parsable", "--wrap", "--signal", "--requeue",
         "--no-requeue", "--open-mode", "--export", "--chdir", "-D", "--array", "-a", "--kill-on-invalid-dep", "--wait", "-W"];

    /// <summary>Reads the section strictly (every key known, every value checked); null: run locally.</summary>
    public static ExecutorSettings Read(ConfigReader r, JsonNode? node)
    {
        if (node is null) return Local;
        const string at = "executor";
        JsonObject obj = r.Object(node, at);
        r.Keys(obj, at, "kind", "partition", "account", "qos", "time", "cpus_per_task", "mem", "gres", "sbatch_args", "setup", "signal_seconds");
        string kind = obj["kind"] is null ? "local" : r.String(obj["kind"]!, $"{at}.kind");
        var settings = new ExecutorSettings
        {
            Kind = kind switch
            {
                "local" => ExecutorKind.Local,
                "slurm" => ExecutorKind.Slurm,
                _ => throw r.Error($"{at}.kind", $"must be local or slurm, got {ConfigReader.Cut(kind)}"),
            },
            Partition = Name(r, obj, "partition"),
            Account = Name(r, obj, "account"),
            Qos = Name(r, obj, "qos"),
            Time = Times(r, obj["time"]),
            CpusPerTask = obj["cpus_per_task"] is null ? null : r.Int(obj["cpus_per_task"], $"{at}.cpus_per_task", 1, 1, 4096),
            Mem = Match(r, obj, "mem", MemoryPattern(), "a size such as 16G, 4000M or 0 (all of a node's)"),
            Gres = Match(r, obj, "gres", GresPattern(), "a generic resource such as gpu:1 or gpu:a100:2"),
            SbatchArgs = Lines(r, obj["sbatch_args"], $"{at}.sbatch_args", 64).Select((a, i) => SbatchArg(r, a, $"{at}.sbatch_args[{i}]")).ToArray(),
            Setup = Lines(r, obj["setup"], $"{at}.setup", 64),
            SignalSeconds = r.Int(obj["signal_seconds"], $"{at}.signal_seconds", 120, 10, 3600),
        };
        return settings;
    }

    private static string? Name(ConfigReader r, JsonObject obj, string key) => Match(r, obj, key, NamePattern(), "a Slurm name (letters, digits, _ . -)");

    private static string? Match(ConfigReader r, JsonObject obj, string key, Regex pattern, string what)
    {
        if (obj[key] is null) return null;
        string value = r.String(obj[key]!, $"executor.{key}");
        return pattern.IsMatch(value) ? value : throw r.Error($"executor.{key}", $"must be {what}, got {ConfigReader.Cut(value)}");
    }

    /// <summary>One limit for every kind, or a map from kind to limit.</summary>
    private static Dictionary<string, string> Times(ConfigReader r, JsonNode? node)
    {
        var times = new Dictionary<string, string>();
        if (node is null) return times;
        if (node is JsonObject map)
        {
            r.Keys(map, "executor.time", JobKinds);
            foreach ((string kind, JsonNode? value) in map) times[kind] = TimeLimit(r, value, $"executor.time.{kind}");
            return times;
        }
        string all = TimeLimit(r, node, "executor.time");
        foreach (string kind in JobKinds) times[kind] = all;
        return times;
    }

    private static string TimeLimit(ConfigReader r, JsonNode? node, string path)
    {
        // A YAML 90 is a number: minutes, as Slurm reads it.
        string value = node is JsonValue v && v.TryGetValue(out long minutes) && minutes > 0 ? minutes.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : r.String(node ?? throw r.Error(path, "is empty"), path);
        return TimePattern().IsMatch(value) ? value
            : throw r.Error(path, $"must be a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS), got {ConfigReader.Cut(value)}");
    }

    private static string[] Lines(ConfigReader r, JsonNode? node, string path, int max)
    {
        if (node is null) return [];
        JsonArray array = r.Array(node, path);
        if (array.Count > max) throw r.Error(path, $"at most {max} entries, got {array.Count}");
        return array.Select((item, i) =>
        {
            string line = r.String(item ?? throw r.Error($"{path}[{i}]", "is empty"), $"{path}[{i}]");
            if (line.Length == 0 || line.Length > 1000 || line.Any(char.IsControl))
                throw r.Error($"{path}[{i}]", "must be one line of 1 to 1000 characters with no control characters");
            return line;
        }).ToArray();
    }

    private static string SbatchArg(ConfigReader r, string arg, string path)
    {
        if (!arg.StartsWith('-')) throw r.Error(path, $"must be an sbatch option (starting with -), got {ConfigReader.Cut(arg)}");
        string name = arg.Split('=', 2)[0];
        if (Reserved.Contains(name)) throw r.Error(path, $"{name} is set by the executor itself (dependencies, logs, requeue); remove it");
        return arg;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]{1,64}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^([0-9]{1,6}|[0-9]{1,6}:[0-9]{1,2}|[0-9]{1,4}:[0-9]{1,2}:[0-9]{1,2}|[0-9]{1,3}-[0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2})?)?)$")]
    private static partial Regex TimePattern();

    [GeneratedRegex(@"^[0-9]{1,9}[KMGT]?$")]
    private static partial Regex MemoryPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_]{1,32}(:[A-Za-z0-9_.\-]{1,32}){0,2}(,[A-Za-z0-9_]{1,32}(:[A-Za-z0-9_.\-]{1,32}){0,2}){0,7}$")]
    private static partial Regex GresPattern();
}
