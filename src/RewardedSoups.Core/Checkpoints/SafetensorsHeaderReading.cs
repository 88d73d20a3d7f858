using System.Text;
using System.Text.Json;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// Reading the parts of a header. Nothing here allocates in proportion to a number the header merely
/// declares: a shape is read into a fixed 64-slot buffer, offsets are counted rather than stored, a
/// dtype is matched without making a string, a name is measured before it is made into one, and text
/// quoted in a message is a short escaped prefix.
/// </summary>
public sealed partial class SafetensorsHeader
{
    /// <summary>The header spellings of <see cref="DTypes.All"/> in UTF-8, to match a dtype without making a string.</summary>
    private static readonly byte[][] DTypeNames = DTypes.All.Select(d => Encoding.UTF8.GetBytes(d.Name())).ToArray();

    private static TensorInfo ParseEntry(ref Utf8JsonReader reader, string name, string file)
    {
        Read(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Entry(file, name, $"entry is a JSON {Describe(reader.TokenType)}, not an object");
        DType? dtype = null;
        long[]? shape = null;
        (long Begin, long End)? offsets = null;
        while (true)
        {
            Read(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            // A field given twice is refused, as serde refuses it in the reference implementation:
            // which one a reader keeps would otherwise decide what the file means.
            if (reader.ValueTextEquals("dtype"u8))
                dtype = dtype is null ? ReadDType(ref reader, file, name) : throw Entry(file, name, "'dtype' appears twice");
            else if (reader.ValueTextEquals("shape"u8))
                shape = shape is null ? ReadShape(ref reader, file, name) : throw Entry(file, name, "'shape' appears twice");
            else if (reader.ValueTextEquals("data_offsets"u8))
                offsets = offsets is null ? ReadOffsets(ref reader, file, name) : throw Entry(file, name, "'data_offsets' appears twice");
            else
            {
                // The reference implementation ignores fields it does not know; so do we, once their
                // name is known to be a string (an escape of a lone surrogate is not).
                if (reader.ValueIsEscaped) GetString(ref reader, file, $"field of tensor {Printable.Quote(name)}");
                Read(ref reader, file, name);
                reader.Skip();
            }
        }
        if (dtype is null) throw Entry(file, name, "missing 'dtype'");
        if (shape is null) throw Entry(file, name, "missing 'shape'");
        if (offsets is not (long begin, long end)) throw Entry(file, name, "missing 'data_offsets'");
        if (end < begin)
            throw new SafetensorsFormatException(SafetensorsError.NonContiguousOffsets, file, name,
                $"data_offsets [{begin}, {end}] end before they begin");
        return new TensorInfo(name, dtype.Value, shape, begin, end);
    }

    private static DType ReadDType(ref Utf8JsonReader reader, string file, string name)
    {
        Read(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.String) throw Entry(file, name, "'dtype' is not a string");
        for (int i = 0; i < DTypeNames.Length; i++)
            if (reader.ValueTextEquals(DTypeNames[i])) return DTypes.All[i];
        throw new SafetensorsFormatException(SafetensorsError.UnknownDType, file, name,
            $"unknown dtype {Preview(reader.ValueSpan)}; valid: {string.Join(", ", DTypes.All.Select(d => d.Name()))}");
    }

    private static long[] ReadShape(ref Utf8JsonReader reader, string file, string name)
    {
        Read(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartArray) throw Entry(file, name, "'shape' is not an array");
        Span<long> dims = stackalloc long[MaxRank];
        int rank = 0;
        while (true)
        {
            Read(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndArray) return dims[..rank].ToArray();
            long dim = ReadNonNegative(ref reader, file, name, "shape");
            if (rank == MaxRank)
                throw new SafetensorsFormatException(SafetensorsError.TooManyDimensions, file, name,
                    $"shape has more than {MaxRank} dimensions, the limit");
            dims[rank++] = dim;
        }
    }

    private static (long Begin, long End) ReadOffsets(ref Utf8JsonReader reader, string file, string name)
    {
        Read(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartArray) throw Entry(file, name, "'data_offsets' is not an array");
        long begin = 0, end = 0;
        int count = 0;
        while (true)
        {
            Read(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndArray) break;
            long value = ReadNonNegative(ref reader, file, name, "data_offsets");
            if (count == 0) begin = value;
            else if (count == 1) end = value;
            count++;
        }
        return count == 2 ? (begin, end) : throw Entry(file, name, $"'data_offsets' has {count} numbers, not 2");
    }

    private static long ReadNonNegative(ref Utf8JsonReader reader, string file, string name, string field)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
            throw Entry(file, name, $"'{field}' holds {Describe(ref reader)}, not a non-negative integer");
        return v;
    }

    private static Dictionary<string, string> ParseMetadata(ref Utf8JsonReader reader, string file, int entries)
    {
        Read(ref reader, file, null);
        var map = new Dictionary<string, string>(entries, StringComparer.Ordinal);
        if (reader.TokenType == JsonTokenType.Null) return map;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(SafetensorsError.InvalidMetadata, file, null,
                $"'__metadata__' is a JSON {Describe(reader.TokenType)}, not a map of strings");
        while (true)
        {
            Read(ref reader, file, null);
            if (reader.TokenType == JsonTokenType.EndObject) return map;
            string key = ReadName(ref reader, file, null, "'__metadata__' key");
            Read(ref reader, file, null);
            if (reader.TokenType != JsonTokenType.String)
                throw new SafetensorsFormatException(SafetensorsError.InvalidMetadata, file, null,
                    $"'__metadata__' key {Printable.Quote(key)} holds a JSON {Describe(reader.TokenType)}, not a string");
            if (!map.TryAdd(key, GetString(ref reader, file, $"'__metadata__' value of {Printable.Quote(key)}")))
                throw new SafetensorsFormatException(SafetensorsError.InvalidMetadata, file, null,
                    $"'__metadata__' key {Printable.Quote(key)} appears more than once");
        }
    }

    /// <summary>A tensor name or metadata key: measured against <see cref="MaxNameBytes"/> before a string is made of it.</summary>
    private static string ReadName(ref Utf8JsonReader reader, string file, string? tensor, string what)
    {
        // Unescaping only shortens (\n is 2 bytes for 1, \u0041 6 for 1), by at most 6 times.
        ReadOnlySpan<byte> raw = reader.ValueSpan;
        bool tooLong = raw.Length > MaxNameBytes && (!reader.ValueIsEscaped || raw.Length > 6 * MaxNameBytes);
        string name = tooLong ? "" : GetString(ref reader, file, what);
        if (tooLong || (raw.Length > MaxNameBytes && Encoding.UTF8.GetByteCount(name) > MaxNameBytes))
            throw new SafetensorsFormatException(SafetensorsError.NameTooLong, file, tensor,
                $"{what} {Preview(raw, 40)} is longer than {MaxNameBytes} bytes, the limit");
        return name;
    }

    /// <summary>A string value; a \u escape of a lone surrogate (which no string can hold) is a format error.</summary>
    private static string GetString(ref Utf8JsonReader reader, string file, string what)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotJson, file, null,
                $"{what} {Preview(reader.ValueSpan, 40)} holds a \\u escape of a lone UTF-16 surrogate, which is not a character");
        }
    }

    /// <summary>Raw JSON text (escapes as written) quoted for a message: see <see cref="Excerpt"/>.</summary>
    private static string Preview(ReadOnlySpan<byte> raw, int maxChars = Printable.DefaultMaxChars) => "'" + Excerpt(raw, maxChars) + "'";

    /// <summary>Raw JSON text for a message: escaped, at most <paramref name="maxChars"/> characters, the length noted when cut.</summary>
    private static string Excerpt(ReadOnlySpan<byte> raw, int maxChars)
    {
        int take = Math.Min(raw.Length, 4 * maxChars);
        string text = Encoding.UTF8.GetString(raw[..take]);
        return take == raw.Length ? Printable.Escape(text, maxChars) : Printable.Escape(text, maxChars, $"{raw.Length} bytes");
    }

    private static void Read(ref Utf8JsonReader reader, string file, string? tensor)
    {
        if (!reader.Read())
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotJson, file, tensor, "header JSON ends early");
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string file, string? tensor)
    {
        Read(ref reader, file, tensor);
        if (reader.TokenType != type)
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotJson, file, tensor,
                $"expected a JSON {Describe(type)}, found {Describe(reader.TokenType)}");
    }

    private static SafetensorsFormatException Entry(string file, string name, string detail) =>
        new(SafetensorsError.InvalidTensorEntry, file, name, detail);

    private static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number => Excerpt(reader.ValueSpan, 40),
        _ => "a JSON " + Describe(reader.TokenType),
    };

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };

    private static string FirstLine(string message)
    {
        int nl = message.IndexOfAny(['\r', '\n']);
        return nl < 0 ? message : message[..nl];
    }
}
