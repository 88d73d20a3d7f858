using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// The parsed, validated header of a safetensors file.
/// Format (https://github.com/huggingface/safetensors): 8 bytes little-endian header length N,
/// N bytes of UTF-8 JSON mapping tensor names to <c>{"dtype", "shape", "data_offsets"}</c> and an
/// optional <c>"__metadata__"</c> map of strings, then the data section. Validation follows the
/// reference implementation's <c>Metadata::validate</c> and adds a duplicate-name check.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (<c>MAX_HEADER_SIZE</c>).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    internal SafetensorsHeader(IReadOnlyList<TensorInfo> tensors, IReadOnlyDictionary<string, string> metadata, long headerBytes)
    {
        Tensors = tensors;
        Metadata = metadata;
        HeaderBytes = headerBytes;
        var byName = new Dictionary<string, TensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (TensorInfo t in tensors) byName.Add(t.Name, t);
        ByName = byName;
    }

    /// <summary>Tensors in the order of their data (offset order).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, TensorInfo> ByName { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>N: the length of the JSON header including its padding.</summary>
    public long HeaderBytes { get; }

    /// <summary>Where the data section starts in the file.</summary>
    public long DataStart => 8 + HeaderBytes;

    /// <summary>Bytes of the data section.</summary>
    public long DataBytes => Tensors.Count == 0 ? 0 : Tensors[^1].End;

    /// <summary>Reads N from the first 8 bytes and checks it against the bounds and the file length.</summary>
    public static long ReadHeaderLength(ReadOnlySpan<byte> first8, long fileLength, string file)
    {
        if (fileLength < 8 || first8.Length < 8)
            throw new SafetensorsFormatException(SafetensorsError.FileTooSmall, file, null,
                $"file is {fileLength} bytes, shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(first8);
        if (n > MaxHeaderBytes)
            throw new SafetensorsFormatException(SafetensorsError.HeaderTooLarge, file, null,
                $"header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
        if ((long)n > fileLength - 8)
            throw new SafetensorsFormatException(SafetensorsError.HeaderPastEndOfFile, file, null,
                $"header length {n} runs past the end of the file ({fileLength} bytes)");
        return (long)n;
    }

    /// <summary>Parses and validates the JSON header; <paramref name="dataBytes"/> is the file length minus 8 + N.</summary>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> json, long dataBytes, string file)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotUtf8, file, null, "header is not valid UTF-8");
        if (json.Length == 0 || json[0] != (byte)'{')
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotObject, file, null,
                "header does not start with '{'");

        var entries = new List<TensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        string? current = null;
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, file, null);
            while (true)
            {
                Read(ref reader, file, null);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string name = reader.GetString()!;
                current = name;
                if (!names.Add(name))
                    throw new SafetensorsFormatException(SafetensorsError.DuplicateTensor, file, name,
                        "appears more than once in the header");
                if (name == "__metadata__") metadata = ParseMetadata(ref reader, file);
                else entries.Add(ParseEntry(ref reader, name, file));
                current = null;
            }
            // Only the space padding (or any JSON whitespace) may follow the object.
            if (reader.Read())
                throw new SafetensorsFormatException(SafetensorsError.HeaderNotJson, file, null,
                    $"unexpected content after the header object at byte {reader.TokenStartIndex}");
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotJson, file, current,
                $"header is not valid JSON: {FirstLine(e.Message)}");
        }

        // Order by offsets (stable: zero-sized tensors sharing an offset keep their header order),
        // then demand a contiguous, gap-free cover of the data section.
        entries = entries.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long expected = 0;
        foreach (TensorInfo t in entries)
        {
            if (t.Begin != expected)
                throw new SafetensorsFormatException(SafetensorsError.NonContiguousOffsets, file, t.Name,
                    t.Begin > expected
                        ? $"data_offsets [{t.Begin}, {t.End}] leave a gap: the previous tensor ends at {expected}"
                        : $"data_offsets [{t.Begin}, {t.End}] overlap the previous tensor, which ends at {expected}");
            long? count = TensorInfo.CheckedElementCount(t.Shape);
            long? bytes = count is long c && c <= long.MaxValue / t.DType.Size() ? c * t.DType.Size() : null;
            if (bytes is null)
                throw new SafetensorsFormatException(SafetensorsError.SizeOverflow, file, t.Name,
                    $"shape {t.ShapeText} of {t.DType.Name()} overflows a 64-bit byte count");
            if (t.End - t.Begin != bytes)
                throw new SafetensorsFormatException(SafetensorsError.SizeMismatch, file, t.Name,
                    $"data_offsets [{t.Begin}, {t.End}] hold {t.End - t.Begin} bytes but shape {t.ShapeText} of {t.DType.Name()} needs {bytes}");
            if (t.End > dataBytes)
                throw new SafetensorsFormatException(SafetensorsError.DataPastEndOfFile, file, t.Name,
                    $"data_offsets [{t.Begin}, {t.End}] run past the end of the data section ({dataBytes} bytes; the file is truncated)");
            expected = t.End;
        }
        if (expected != dataBytes)
            throw new SafetensorsFormatException(SafetensorsError.TrailingBytes, file, null,
                $"{dataBytes - expected} bytes of trailing data after the last tensor (tensors end at {expected}, data section is {dataBytes} bytes)");
        return new SafetensorsHeader(entries, metadata, json.Length);
    }

    private static TensorInfo ParseEntry(ref Utf8JsonReader reader, string name, string file)
    {
        Read(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Entry(file, name, $"entry is a JSON {Describe(reader.TokenType)}, not an object");
        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (true)
        {
            Read(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string field = reader.GetString()!;
            switch (field)
            {
                case "dtype":
                    Read(ref reader, file, name);
                    if (reader.TokenType != JsonTokenType.String) throw Entry(file, name, "'dtype' is not a string");
                    dtypeName = reader.GetString();
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, file, name, "shape");
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(ref reader, file, name, "data_offsets");
                    break;
                default:
                    // The reference implementation ignores fields it does not know; so do we.
                    Read(ref reader, file, name);
                    reader.Skip();
                    break;
            }
        }
        if (dtypeName is null) throw Entry(file, name, "missing 'dtype'");
        if (shape is null) throw Entry(file, name, "missing 'shape'");
        if (offsets is null) throw Entry(file, name, "missing 'data_offsets'");
        if (offsets.Count != 2)
            throw Entry(file, name, $"'data_offsets' has {offsets.Count} numbers, not 2");
        DType dtype = DTypes.TryParse(dtypeName) ?? throw new SafetensorsFormatException(
            SafetensorsError.UnknownDType, file, name,
            $"unknown dtype '{dtypeName}'; valid: {string.Join(", ", DTypes.All.Select(d => d.Name()))}");
        if (offsets[1] < offsets[0])
            throw new SafetensorsFormatException(SafetensorsError.NonContiguousOffsets, file, name,
                $"data_offsets [{offsets[0]}, {offsets[1]}] end before they begin");
        return new TensorInfo(name, dtype, shape.ToArray(), offsets[0], offsets[1]);
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string file, string name, string field)
    {
        Read(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartArray) throw Entry(file, name, $"'{field}' is not an array");
        var values = new List<long>();
        while (true)
        {
            Read(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndArray) return values;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                throw Entry(file, name, $"'{field}' holds {Describe(ref reader)}, not a non-negative integer");
            values.Add(v);
        }
    }

    private static Dictionary<string, string> ParseMetadata(ref Utf8JsonReader reader, string file)
    {
        Read(ref reader, file, null);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (reader.TokenType == JsonTokenType.Null) return map;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(SafetensorsError.InvalidMetadata, file, null,
                $"'__metadata__' is a JSON {Describe(reader.TokenType)}, not a map of strings");
        while (true)
        {
            Read(ref reader, file, null);
            if (reader.TokenType == JsonTokenType.EndObject) return map;
            string key = reader.GetString()!;
            Read(ref reader, file, null);
            if (reader.TokenType != JsonTokenType.String)
                throw new SafetensorsFormatException(SafetensorsError.InvalidMetadata, file, null,
                    $"'__metadata__' key '{key}' holds a JSON {Describe(reader.TokenType)}, not a string");
            if (!map.TryAdd(key, reader.GetString()!))
                throw new SafetensorsFormatException(SafetensorsError.InvalidMetadata, file, null,
                    $"'__metadata__' key '{key}' appears more than once");
        }
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
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
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
