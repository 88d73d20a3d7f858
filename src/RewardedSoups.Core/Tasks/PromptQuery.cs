using System.Globalization;

namespace RewardedSoups.Tasks;

/// <summary>
/// The <c>prompt</c> parameter that prompt-driven showcases (text, images) take beside λ: an index into
/// their list of prompts, 0 when absent; any other parameter is refused.
/// </summary>
public static class PromptQuery
{
    public const string Key = "prompt";

    /// <summary>An error message for a request the showcase cannot answer, or null.</summary>
    public static string? Validate(IReadOnlyDictionary<string, string> query, int prompts)
    {
        foreach (string key in query.Keys)
            if (key != Key) return $"unknown parameter '{key[..Math.Min(key.Length, 32)]}'; this run takes lambda and prompt";
        if (!query.TryGetValue(Key, out string? text)) return null;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k < prompts
            ? null
            : $"prompt must be a whole number in [0, {prompts - 1}], got '{text[..Math.Min(text.Length, 32)]}'";
    }

    /// <summary>The prompt index of a validated request.</summary>
    public static int Index(IReadOnlyDictionary<string, string> query) =>
        query.TryGetValue(Key, out string? p) ? int.Parse(p, CultureInfo.InvariantCulture) : 0;

    /// <summary>The request's part of a cache key.</summary>
    public static string CacheKey(IReadOnlyDictionary<string, string> query) => $"prompt={Index(query)}";
}
