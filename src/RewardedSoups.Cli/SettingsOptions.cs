using System.CommandLine;
using System.Text.Json.Nodes;
using RewardedSoups.Tasks;

namespace RewardedSoups.Cli;

/// <summary>
/// A task family's settings section given on a command line as <c>--set KEY=VALUE</c> (keys as in a
/// configuration file, nested with dots), read and checked by the family exactly as a configuration's.
/// </summary>
public static class SettingsOptions
{
    public static Option<string[]> Create() => new("--set")
    {
        Description = "A key of the task family's settings section, KEY=VALUE (repeatable; nested keys with dots: ppo.batch=16; lists as [a,b]).",
    };

    /// <summary>The family's settings from <paramref name="section"/> (already holding any shortcuts) and the <c>--set</c> pairs.</summary>
    public static ISettingsSection Read(ITaskFamily family, string task, JsonObject section, IEnumerable<string>? pairs)
    {
        foreach (string pair in pairs ?? [])
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new SoupInputException($"--set '{pair}': expected KEY=VALUE, e.g. --set {(family.SettingsKey == "ppo" ? "envs=8" : "ppo.batch=16")}");
            Set(section, pair[..eq].Trim(), pair[(eq + 1)..].Trim(), $"--set {pair[..eq].Trim()}");
        }
        return family.ReadSettings(task, section, new ConfigReader("command line"));
    }

    /// <summary>Sets a (dotted) key of the section to a value read as a configuration file's.</summary>
    public static void Set(JsonObject section, string key, string value, string what)
    {
        string[] parts = key.Split('.');
        if (parts.Any(p => p.Length == 0)) throw new SoupInputException($"{what}: '{key}' is not a key");
        JsonObject node = section;
        foreach (string part in parts[..^1])
        {
            if (node[part] is not JsonObject child)
            {
                child = new JsonObject();
                node[part] = child;
            }
            node = child;
        }
        node[parts[^1]] = Value(value, what);
    }

    /// <summary>A value as a configuration file types it (the same YAML reader and limits): a number, true/false, a [list], or text.</summary>
    private static JsonNode? Value(string text, string what) => Runner.ConfigDocument.FromYaml(text, what);
}
