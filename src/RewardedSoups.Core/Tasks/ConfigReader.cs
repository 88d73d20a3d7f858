using System.Globalization;
using System.Text.Json.Nodes;
using RewardedSoups.Soup;

namespace RewardedSoups.Tasks;

/// <summary>A reward of an experiment: a task's named reward, or named weighted terms.</summary>
public sealed record RewardSpec(string Name, IReadOnlyDictionary<string, double>? Terms);

/// <summary>
/// Strict readers of configuration documents (YAML or JSON, both as JSON nodes) that name the file and
/// the key path in every error; shared by the experiment configuration and the task families' settings.
/// </summary>
public sealed class ConfigReader(string source)
{
    /// <summary>Longest key path or value an error quotes; longer ones are cut (a hostile 5,000-character key stays one readable line).</summary>
    public const int MaxQuoted = 80;

    /// <summary>The one-line error of a key path: "SOURCE: 'path': message" (no source prefix for settings built in code).</summary>
    public SoupInputException Error(string path, string message) =>
        new($"{(source.Length == 0 ? "" : source + ": ")}{(path.Length == 0 ? "" : $"'{Cut(path)}': ")}{message}");

    /// <summary>A value as an error quotes it: its JSON text, cut to <see cref="MaxQuoted"/> characters.</summary>
    public static string Show(JsonNode? node) => Cut(node?.ToJsonString() ?? "null");

    /// <summary>Text cut to <see cref="MaxQuoted"/> characters, with an ellipsis and the full length when cut.</summary>
    public static string Cut(string text) => text.Length <= MaxQuoted ? text : $"{text[..MaxQuoted]}… ({text.Length} characters)";

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

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="fallback"/> when absent.</summary>
    public int Int(JsonNode? node, string path, int fallback, int min, int max = int.MaxValue) =>
        node is null ? fallback : (int)Long(node, path, min, max);

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; above the maximum, the error names it.</summary>
    public long Long(JsonNode node, string path, long min, long max = long.MaxValue)
    {
        long? whole = null;
        bool tooLarge = false;
        if (node is JsonValue v && v.TryGetValue(out long l)) whole = l;
        else if (node is JsonValue i && i.TryGetValue(out int n)) whole = n;
        else if (Number(node, out double x) && x == Math.Floor(x))
        {
            if (Math.Abs(x) < 9e18) whole = (long)x;
            else tooLarge = x > 0;
        }
        if (tooLarge || whole > max) throw Error(path, $"must be at most {max}, got {Show(node)}");
        if (whole is not { } w || w < min) throw Error(path, $"expected a whole number ≥ {min}, got {Show(node)}");
        return w;
    }

    public bool Bool(JsonNode? node, string path, bool fallback)
    {
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw Error(path, $"expected true or false, got {Show(node)}");
    }

    public double Double(JsonNode? node, string path, double fallback)
    {
        if (node is null) return fallback;
        if (Number(node, out double d) && double.IsFinite(d)) return d;
        throw Error(path, $"expected a finite number, got {Show(node)}");
    }

    /// <summary>
    /// A JSON number as a double: from a parsed document (a JsonElement) or from a section built in code,
    /// whose JsonValue holds the CLR type it was made from (<c>["seed"] = 1</c> an int, <c>0.5f</c> a float).
    /// </summary>
    private static bool Number(JsonNode? node, out double d)
    {
        d = 0;
        if (node is not JsonValue v) return false;
        if (v.TryGetValue(out double x)) d = x;
        else if (v.TryGetValue(out long l) && (long)(double)l == l) d = l;
        else if (v.TryGetValue(out int i)) d = i;
        else if (v.TryGetValue(out float f)) d = f;
        else if (v.TryGetValue(out decimal m)) d = (double)m;
        else return false;
        return true;
    }

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>], or in (<paramref name="min"/>, <paramref name="max"/>] unless <paramref name="minIncluded"/>.</summary>
    public double Double(JsonNode? node, string path, double fallback, double min, double max, bool minIncluded = true)
    {
        double v = Double(node, path, fallback);
        if ((minIncluded ? v >= min : v > min) && v <= max) return v;
        string Shown(double x) => x.ToString(CultureInfo.InvariantCulture);
        throw Error(path, $"must be in {(minIncluded ? "[" : "(")}{Shown(min)}, {Shown(max)}], got {Shown(v)}");
    }

    /// <summary>Largest weight of a reward term, either sign: rewards are summed in single precision, and a weight beyond a million is a typo.</summary>
    public const double MaxTermWeight = 1e6;

    /// <summary>A reward: a name (a task's named reward), or <c>{name: x, terms: {term: weight}}</c>.</summary>
    public RewardSpec Reward(JsonNode node, string path)
    {
        if (node is JsonValue) return new RewardSpec(String(node, path), null);
        JsonObject obj = Object(node, path);
        Keys(obj, path, "name", "terms");
        JsonObject terms = Object(Required(obj, "terms", path), $"{path}.terms");
        var weights = new Dictionary<string, double>();
        foreach ((string term, JsonNode? w) in terms) weights[term] = Double(w, $"{path}.terms.{term}", 0, -MaxTermWeight, MaxTermWeight);
        if (weights.Count == 0) throw Error($"{path}.terms", "needs at least one term");
        return new RewardSpec(String(Required(obj, "name", path), $"{path}.name"), weights);
    }

    /// <summary>
    /// A weight vector on the simplex (checked by <see cref="SoupWeights"/>' rule, the one every λ meets);
    /// for 2 experts a bare number x means (1 − x, x).
    /// </summary>
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
        if (w.Length != n) throw Error(path, $"has {w.Length} {(w.Length == 1 ? "weight" : "weights")} for {n} experts");
        try
        {
            SoupWeights.Of(w);
        }
        catch (SoupInputException e)
        {
            throw Error(path, $"{e.Message}, in [{string.Join(", ", w.Select(x => x.ToString(CultureInfo.InvariantCulture)))}]");
        }
        if (!allowVertices && w.Any(x => x == 1))
            throw Error(path, "is an expert's own reward; the experts are the MORL front's endpoints already");
        return w;
    }
}
