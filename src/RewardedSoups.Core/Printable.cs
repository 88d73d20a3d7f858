using System.Text;

namespace RewardedSoups;

/// <summary>
/// Text from a file, made safe to print in a one-line message: control characters (which could move
/// the cursor or recolour the terminal: ESC starts an ANSI sequence), line breaks and bidirectional
/// overrides are written as JSON-style escapes, and anything longer than a limit is cut, saying how
/// long it was. A tensor name, a metadata key or a number from a hostile header can then neither paint
/// the terminal nor fill it.
/// </summary>
public static class Printable
{
    /// <summary>Characters of a value shown in a message before it is cut.</summary>
    public const int DefaultMaxChars = 120;

    /// <summary>The value between single quotes, escaped and cut: <c>'layer.0.weight'</c>.</summary>
    public static string Quote(string value, int maxChars = DefaultMaxChars) => "'" + Escape(value, maxChars) + "'";

    /// <summary>The value escaped and, past <paramref name="maxChars"/> characters, cut with its length noted.</summary>
    public static string Escape(string value, int maxChars = DefaultMaxChars) => Escape(value, maxChars, null);

    /// <summary>
    /// Like <see cref="Escape(string, int)"/> for a prefix of a longer text: <paramref name="length"/>
    /// (e.g. "200000 bytes") is what the cut says the whole measured.
    /// </summary>
    public static string Escape(string value, int maxChars, string? length)
    {
        int clean = 0;
        while (clean < value.Length && clean < maxChars && Plain(value, clean) is int n and > 0) clean += n;
        if (clean == value.Length && length is null) return value; // the common case: nothing to do, nothing allocated
        var sb = new StringBuilder(Math.Min(value.Length, maxChars) + 32);
        sb.Append(value, 0, clean);
        int i = clean;
        while (i < value.Length && sb.Length < maxChars)
        {
            int plain = Plain(value, i);
            if (plain > 0)
            {
                sb.Append(value, i, plain);
                i += plain;
                continue;
            }
            char c = value[i++];
            sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => $"\\u{(int)c:x4}" });
        }
        if (i < value.Length || length is not null) sb.Append($"… ({length ?? $"{value.Length} characters"})");
        return sb.ToString();
    }

    /// <summary>How many characters at <paramref name="i"/> print as they are: 1, 2 for a surrogate pair, 0 for one to escape.</summary>
    private static int Plain(string s, int i)
    {
        char c = s[i];
        if (char.IsHighSurrogate(c)) return i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 0;
        return NeedsEscape(c) ? 0 : 1;
    }

    /// <summary>
    /// C0 and C1 controls, DEL, the line and paragraph separators, the bidirectional embeddings,
    /// overrides and isolates (which reorder what follows them), and lone surrogates.
    /// </summary>
    private static bool NeedsEscape(char c) =>
        c < 0x20 || c is >= '\u007f' and <= '\u009f' || c is '\u2028' or '\u2029' or '\u200e' or '\u200f'
        || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069' || char.IsSurrogate(c);
}
