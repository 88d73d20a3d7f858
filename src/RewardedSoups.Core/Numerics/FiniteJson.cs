using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RewardedSoups.Numerics;

/// <summary>
/// JSON for files we write (results, evaluations, reports): System.Text.Json refuses NaN and ±∞ with an
/// <see cref="ArgumentException"/> whose text names no field; this names the file and the field
/// (<c>results.json: policies[3].mean[1] is NaN; nothing non-finite is written</c>) as a
/// <see cref="NumericalFailureException"/>. Nothing is written: callers serialise first, then write atomically.
/// </summary>
public static class FiniteJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Serialises <paramref name="value"/>, indented unless <paramref name="options"/> say otherwise; <paramref name="what"/> names the file in an error.</summary>
    public static string Serialize<T>(T value, string what, JsonSerializerOptions? options = null)
    {
        options ??= Indented;
        try
        {
            return JsonSerializer.Serialize(value, options);
        }
        catch (ArgumentException e) when (e.Message.Contains("cannot be written as valid JSON", StringComparison.Ordinal))
        {
            throw new NumericalFailureException($"{what}: {Locate(value, options) ?? "a number"} is not finite; nothing non-finite is written");
        }
    }

    /// <summary>The path and value of the first non-finite number in <paramref name="value"/>'s JSON form, e.g. <c>policies[3].mean[1] (NaN)</c>.</summary>
    private static string? Locate<T>(T value, JsonSerializerOptions options)
    {
        // The same serialisation with non-finite numbers allowed as the strings "NaN", "Infinity" and
        // "-Infinity"; the first such string in a place a number is written is the culprit.
        var lenient = new JsonSerializerOptions(options) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        return Find(JsonSerializer.SerializeToNode(value, lenient), "");
    }

    private static string? Find(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach ((string key, JsonNode? child) in obj)
                    if (Find(child, path.Length == 0 ? key : $"{path}.{key}") is string found) return found;
                return null;
            case JsonArray array:
                for (int i = 0; i < array.Count; i++)
                    if (Find(array[i], $"{path}[{i}]") is string found) return found;
                return null;
            case JsonValue leaf when leaf.TryGetValue(out string? text) && text is "NaN" or "Infinity" or "-Infinity":
                return $"{(path.Length == 0 ? "the value" : path)} ({text})";
            default:
                return null;
        }
    }
}
