using System.Buffers.Binary;
using System.Text.Json;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// The parsed, validated header of a safetensors file.
/// Format (https://github.com/huggingface/safetensors): 8 bytes little-endian header length N,
/// N bytes of UTF-8 JSON mapping tensor names to <c>{"dtype", "shape", "data_offsets"}</c> and an
/// optional <c>"__metadata__"</c> map of strings, then the data section. Validation follows the
/// reference implementation's <c>Metadata::validate</c> and adds a duplicate-name check and limits
/// (<see cref="MaxRank"/>, <see cref="MaxEntries"/>, <see cref="MaxNameBytes"/>) that keep the memory
/// of parsing within a small multiple of the header's bytes, whatever the header declares.
/// </summary>
public sealed partial class SafetensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (<c>MAX_HEADER_SIZE</c>).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Most dimensions a shape may have: 64, the most PyTorch (its dimension bitsets) and NumPy 2
    /// (<c>NPY_MAXDIMS</c>) can hold, so no tensor they save exceeds it.
    /// </summary>
    public const int MaxRank = 64;

    /// <summary>
    /// Most tensors in one header, and most <c>__metadata__</c> entries: 10× the tensors of the largest
    /// open checkpoints (DeepSeek-V3: about 90 000 with its FP8 scales), which keeps a header of
    /// millions of empty tensors from costing hundreds of bytes of objects per 50-byte entry.
    /// </summary>
    public const int MaxEntries = 1_000_000;

    /// <summary>Longest tensor name or metadata key, in UTF-8 bytes: real names are module paths of under 200.</summary>
    public const int MaxNameBytes = 1024;

    internal SafetensorsHeader(List<TensorInfo> tensors, Dictionary<string, TensorInfo> byName, IReadOnlyDictionary<string, string> metadata, long headerBytes)
    {
        Tensors = tensors;
        ByName = byName;
        Metadata = metadata;
        HeaderBytes = headerBytes;
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

        // A large header is counted first, without allocating: too many entries are refused before
        // any is made, and the tables are made once at their size. A header of at most 1 MiB cannot
        // exceed the limits (1,000,000 entries take 6 MB even of the smallest kind, "":"", in the
        // metadata) and is not charged for a count: a second pass would make opening ~30% slower.
        (int tensors, int metadataEntries) = json.Length > CountFirstBytes ? CountEntries(json) : (0, 0);
        if (tensors > MaxEntries)
            throw new SafetensorsFormatException(SafetensorsError.TooManyEntries, file, null,
                $"header holds more than {MaxEntries:N0} tensors, the limit");
        if (metadataEntries > MaxEntries)
            throw new SafetensorsFormatException(SafetensorsError.TooManyEntries, file, null,
                $"'__metadata__' holds more than {MaxEntries:N0} entries, the limit");
        // A tensor entry takes at least 49 bytes ("":{"dtype":"U8","shape":[],"data_offsets":[0,0]}):
        // a count of members that cannot be entries does not size the tables.
        int capacity = Math.Min(tensors, json.Length / 49);
        var entries = new List<TensorInfo>(capacity);
        var byName = new Dictionary<string, TensorInfo>(capacity, StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        string? current = null;
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, file, null);
            while (true)
            {
                Read(ref reader, file, null);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string name = ReadName(ref reader, file, null, "tensor name");
                current = name;
                if (byName.ContainsKey(name) || (name == "__metadata__" && metadata is not null))
                    throw new SafetensorsFormatException(SafetensorsError.DuplicateTensor, file, name,
                        "appears more than once in the header");
                if (name == "__metadata__")
                {
                    metadata = ParseMetadata(ref reader, file, Math.Min(metadataEntries, json.Length / 6)); // "":"", is 6 bytes
                }
                else
                {
                    TensorInfo t = ParseEntry(ref reader, name, file);
                    entries.Add(t);
                    byName.Add(name, t);
                }
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
        catch (InvalidOperationException)
        {
            // The reader could not unescape a string: a \u escape of half a surrogate pair.
            throw new SafetensorsFormatException(SafetensorsError.HeaderNotJson, file, current,
                $"a string near byte {reader.TokenStartIndex} holds a \\u escape of a lone UTF-16 surrogate, which is not a character");
        }

        // Order by offsets (stable: zero-sized tensors sharing an offset keep their header order),
        // then demand a contiguous, gap-free cover of the data section. Writers list tensors in
        // offset order, so the sort (and its copies) is usually skipped.
        if (!InOffsetOrder(entries)) entries = entries.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
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
        return new SafetensorsHeader(entries, byName, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal), json.Length);
    }

    /// <summary>Headers longer than this are counted before they are parsed (see <see cref="Parse"/>).</summary>
    private const int CountFirstBytes = 1 << 20;

    /// <summary>
    /// Tensors (members of the top-level object but <c>__metadata__</c>) and metadata entries, each
    /// counted up to one past the limit. A malformed header may be counted short: the parse that
    /// follows reports it, with its place.
    /// </summary>
    private static (int Tensors, int Metadata) CountEntries(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        int tensors = 0, metadata = 0;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (0, 0);
            while (tensors <= MaxEntries && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isMetadata = reader.ValueTextEquals("__metadata__"u8);
                if (!reader.Read()) break;
                if (!isMetadata) tensors++;
                else if (reader.TokenType == JsonTokenType.StartObject)
                {
                    while (metadata <= MaxEntries && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        metadata++;
                        if (reader.Read()) reader.Skip();
                    }
                    if (metadata > MaxEntries) break;
                }
                reader.Skip();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
        }
        return (tensors, metadata);
    }

    private static bool InOffsetOrder(List<TensorInfo> entries)
    {
        for (int i = 1; i < entries.Count; i++)
        {
            TensorInfo a = entries[i - 1], b = entries[i];
            if (a.Begin > b.Begin || (a.Begin == b.Begin && a.End > b.End)) return false;
        }
        return true;
    }
}
