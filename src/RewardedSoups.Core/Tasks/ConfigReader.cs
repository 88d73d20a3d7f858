using System.Globalization;
using System.Text.Json.Nodes;

namespace RewardedSoups.Tasks;

/// <summary>A reward of an experiment: a task's named reward, or named weighted terms.</summary>
public sealed record RewardSpec(string Name, IReadOnlyDictionary<string, double>? Terms);

/// <summary>
/// Strict readers of configuration documents (YAML or JSON, both as JSON nodes) that name the file and
/// the key path in every error; shared by the experiment configuration and the task families' settings.
/// </summary>
public sealed class ConfigReader(string source)
{
    public SoupInputException Error(string path, string message) => new($"{source}: {(path.Length == 0 ? "" : $"'{path}': ")}{message}");

    public JsonObject Object(JsonNode? node, string path) =>
        node as JsonObject ?? throw Error(path, "expected a mapping of keys");

    public JsonArray Array(JsonNode? node, string path) =>
        node as JsonArray ?? throw Error(path, "expected a list");

    public JsonNode Required(JsonObject obj, string key, string path) =>
        obj[key] ?? throw Error(path.Length == 0 ? key : $"{path}.{key}", "is required");

    public void Keys(JsonObject obj, string path, params string[] valid)
    {
        foreach ((string key, _) in obj)
            if (!valid.Contains(key))
                throw Error(path.Length == 0 ? key : $"{path}.{key}", $"unknown key; valid here: {string.Join(", ", valid)}");
    }

    public string String(JsonNode node, string path) =>
        node is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 ? s : throw Error(path, "expected a non-empty text");

    public int Int(JsonNode? node, string path, int fallback, int min)
    {
        if (node is null) return fallback;
        long v = Long(node, path, min);
        return v <= int.MaxValue ? (int)v : throw Error(path, "too large");
    }

    public long Long(JsonNode node, string path, long min)
    {
        if (node is JsonValue v && v.TryGetValue(out long l) && l >= min) return l;
        if (node is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && x >= min && x < 9e18) return (long)x;
        throw Error(path, $"expected a whole number ≥ {min}, got {node.ToJsonString()}");
    }

    public bool Bool(JsonNode? node, string path, bool fallback)
    {
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw Error(path, $"expected true or false, got {node.ToJsonString()}");
    }

    public double Double(JsonNode? node, string path, double fallback)
    {
        if (node is null) return fallback;
        if (node is JsonValue v && (v.TryGetValue(out double d) || (v.TryGetValue(out long l) && (d = l) == l)) && double.IsFinite(d)) return d;
        throw Error(path, $"expected a finite number, got {node.ToJsonString()}");
    }

    /// <summary>A reward: a name (a task's named reward), or <c>{name: x, terms: {term: weight}}</c>.</summary>
    public RewardSpec Reward(JsonNode node, string path)
    {
        if (node is JsonValue) return new RewardSpec(String(node, path), null);
        JsonObject obj = Object(node, path);
        Keys(obj, path, "name", "terms");
        JsonObject terms = Object(Required(obj, "terms", path), $"{path}.terms");
        var weights = new Dictionary<string, double>();
        foreach ((string term, JsonNode? w) in terms) weights[term] = Double(w, $"{path}.terms.{term}", 0);
        if (weights.Count == 0) throw Error($"{path}.terms", "needs at least one term");
        return new RewardSpec(String(Required(obj, "name", path), $"{path}.name"), weights);
    }

    /// <summary>A weight vector on the simplex; for 2 experts a bare number x means (1 − x, x).</summary>
    public double[] Weights(JsonNode? node, string path, int n, bool allowVertices)
    {
        double[] w;
        if (node is JsonValue && n == 2)
        {
            double x = Double(node, path, 0);
            w = [1 - x, x];
        }
        else
        {
            w = Array(node, path).Select((x, i) => Double(x, $"{path}[{i}]", 0)).ToArray();
        }
        if (w.Length != n) throw Error(path, $"has {w.Length} weights for {n} experts");
        if (w.Any(x => x < 0) || Math.Abs(w.Sum() - 1) > 1e-6)
            throw Error(path, $"weights must be non-negative and sum to 1, got [{string.Join(", ", w.Select(x => x.ToString(CultureInfo.InvariantCulture)))}]");
        if (!allowVertices && w.Any(x => x == 1))
            throw Error(path, "is an expert's own reward; the experts are the MORL front's endpoints already");
        return w;
    }
}
