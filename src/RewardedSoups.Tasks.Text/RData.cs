using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// A reader of the R objects an installed R package keeps its data in: the lazy-load database
/// (<c>data/Rdata.rdx</c>, the index, and <c>data/Rdata.rdb</c>, the objects) that R writes for a
/// package's data sets. Both hold R's serialisation format version 2 or 3 in XDR (big-endian)
/// binary; the index is gzip-compressed, each object zlib-compressed after a 4-byte length.
/// <para>
/// Only what data sets of text need is read: character, integer, double and logical vectors, lists,
/// pairlists (attributes), symbols and references to them. Anything else (closures, environments,
/// bytecode) is an error naming the type, not a guess. R's own documentation of the format is
/// "R Internals", section 1.8 (Serialization formats); the type codes are those of Rinternals.h.
/// </para>
/// </summary>
public static class RData
{
    /// <summary>A vector or list read from R, with its attributes (e.g. <c>names</c>); strings may be null (NA).</summary>
    public sealed record RObject(int Type, object?[] Values, IReadOnlyDictionary<string, RObject?> Attributes)
    {
        /// <summary>The element named <paramref name="name"/> of a named list, or null.</summary>
        public RObject? this[string name]
        {
            get
            {
                if (!Attributes.TryGetValue("names", out RObject? names) || names is null) return null;
                int i = Array.IndexOf(names.Values, name);
                return i < 0 ? null : Values[i] as RObject;
            }
        }

        /// <summary>The elements as strings (a character vector).</summary>
        public string?[] Strings => Type == StrSxp ? Values.Cast<string?>().ToArray() : throw new InvalidDataException($"R object of type {Type} is not a character vector");
    }

    private const int SymSxp = 1, ListSxp = 2, CharSxp = 9, LglSxp = 10, IntSxp = 13, RealSxp = 14, StrSxp = 16, VecSxp = 19;
    private const int RefSxp = 255, NilValueSxp = 254, GlobalEnvSxp = 253, EmptyEnvSxp = 242, BaseEnvSxp = 241, MissingArgSxp = 251, BaseNamespaceSxp = 247;
    private const int NaInteger = int.MinValue;
    private const int MaxDepth = 100;

    /// <summary>
    /// Every object of a package's lazy-load database, by name: <paramref name="rdx"/> the index file,
    /// the objects read from the <c>.rdb</c> beside it. A damaged file is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public static IReadOnlyDictionary<string, RObject> ReadLazyLoadDatabase(string rdx)
    {
        string rdb = Path.ChangeExtension(rdx, ".rdb");
        try
        {
            RObject index = Deserialize(Gunzip(File.ReadAllBytes(rdx))) as RObject
                ?? throw new InvalidDataException("the index is not a list");
            RObject variables = index["variables"] ?? throw new InvalidDataException("the index has no 'variables'");
            string?[] names = (variables.Attributes.GetValueOrDefault("names") ?? throw new InvalidDataException("'variables' has no names")).Strings;
            var result = new Dictionary<string, RObject>(StringComparer.Ordinal);
            using FileStream db = File.OpenRead(rdb);
            for (int i = 0; i < names.Length; i++)
            {
                var at = variables.Values[i] as RObject ?? throw new InvalidDataException($"variable {names[i]} has no offset");
                long offset = Convert.ToInt64(at.Values[0]), length = Convert.ToInt64(at.Values[1]);
                if (offset < 0 || length < 5 || offset + length > db.Length)
                    throw new InvalidDataException($"variable {names[i]}: bytes {offset}..{offset + length} lie outside {rdb} ({db.Length} bytes)");
                byte[] blob = new byte[length];
                db.Position = offset;
                db.ReadExactly(blob);
                result[names[i] ?? throw new InvalidDataException("a variable without a name")] =
                    Deserialize(Inflate(blob)) as RObject ?? throw new InvalidDataException($"variable {names[i]} is not a vector");
            }
            return result;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or InvalidCastException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{rdx}: not an R lazy-load database this reader understands ({e.Message})", e);
        }
    }

    /// <summary>An object of the <c>.rdb</c>: its uncompressed length (4 bytes, big-endian), then zlib data (R's <c>compress = TRUE</c>).</summary>
    private static byte[] Inflate(byte[] blob)
    {
        int length = BinaryPrimitives.ReadInt32BigEndian(blob);
        if (length < 0 || length > 1 << 30) throw new InvalidDataException($"an object claims {length} bytes");
        if (blob[4] != 0x78) throw new InvalidDataException($"an object is not zlib-compressed (its first byte is 0x{blob[4]:x2}; bzip2 and xz databases are not read)");
        using var z = new ZLibStream(new MemoryStream(blob, 4, blob.Length - 4), CompressionMode.Decompress);
        byte[] data = new byte[length];
        z.ReadExactly(data);
        return data;
    }

    private static byte[] Gunzip(byte[] data)
    {
        using var z = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        z.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>An object in R's XDR serialisation (<c>X\n</c>, versions 2 and 3).</summary>
    public static object? Deserialize(byte[] data) => new Reader(data).ReadAll();

    private sealed class Reader(byte[] data)
    {
        private int _at;
        private readonly List<object?> _refs = [];

        public object? ReadAll()
        {
            if (data.Length < 2 || data[0] != (byte)'X' || data[1] != (byte)'\n')
                throw new InvalidDataException("not R's XDR serialisation (it starts with 'X\\n')");
            _at = 2;
            int version = Int();
            Int(); // the R version that wrote it
            Int(); // the oldest R version that reads it
            if (version == 3)
            {
                int n = Int();
                Bytes(n); // the writer's native encoding
            }
            else if (version != 2) throw new InvalidDataException($"serialisation version {version} (2 and 3 are read)");
            return Item();
        }

        private int _depth;

        private object? Item()
        {
            // Nesting deeper than any data set's would only come from a damaged or hostile file (and would overflow the stack).
            if (++_depth > MaxDepth) throw new InvalidDataException($"objects nested more than {MaxDepth} deep");
            try { return ItemAt(); }
            finally { _depth--; }
        }

        private object? ItemAt()
        {
            int flags = Int();
            int type = flags & 0xFF;
            bool hasAttr = (flags & (1 << 9)) != 0, hasTag = (flags & (1 << 10)) != 0;
            switch (type)
            {
                case NilValueSxp or GlobalEnvSxp or EmptyEnvSxp or BaseEnvSxp or MissingArgSxp or BaseNamespaceSxp:
                    return null;
                case RefSxp:
                {
                    int index = flags >> 8;
                    if (index == 0) index = Int();
                    if (index < 1 || index > _refs.Count) throw new InvalidDataException($"reference {index} to one of {_refs.Count} symbols");
                    return _refs[index - 1];
                }
                case SymSxp:
                {
                    string? name = Item() as string;
                    _refs.Add(name);
                    return name;
                }
                case CharSxp:
                    return CharacterString(flags);
                case ListSxp:
                {
                    // A pairlist (attributes): a chain of (attributes, tag, value); read as name → value.
                    var pairs = new Dictionary<string, RObject?>(StringComparer.Ordinal);
                    while (true)
                    {
                        if (hasAttr) Item();
                        string tag = hasTag ? Item() as string ?? "" : "";
                        pairs[tag] = Item() as RObject;
                        int next = Int();
                        if ((next & 0xFF) == NilValueSxp) return pairs;
                        if ((next & 0xFF) != ListSxp) throw new InvalidDataException($"a pairlist continues with type {next & 0xFF}");
                        hasAttr = (next & (1 << 9)) != 0;
                        hasTag = (next & (1 << 10)) != 0;
                    }
                }
                case LglSxp or IntSxp or RealSxp or StrSxp or VecSxp:
                {
                    int length = Length();
                    var values = new object?[length];
                    for (int i = 0; i < length; i++)
                        values[i] = type switch
                        {
                            LglSxp => Int() is var b && b == NaInteger ? null : b != 0,
                            IntSxp => Int() is var v && v == NaInteger ? null : v,
                            RealSxp => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64BigEndian(Bytes(8))),
                            StrSxp => Item() as string,
                            _ => Item(),
                        };
                    var attributes = hasAttr
                        ? Item() as Dictionary<string, RObject?> ?? throw new InvalidDataException("attributes that are not a pairlist")
                        : new Dictionary<string, RObject?>();
                    return new RObject(type, values, attributes);
                }
                default:
                    throw new InvalidDataException($"R object type {type} (only vectors, lists, symbols and attributes are read)");
            }
        }

        private string? CharacterString(int flags)
        {
            int length = Int();
            if (length == -1) return null; // NA_character_
            ReadOnlySpan<byte> bytes = Bytes(length);
            // The encoding bits of the levels (R Internals: LATIN1_MASK 1 << 2, UTF8_MASK 1 << 3, ASCII_MASK 1 << 6).
            bool latin1 = ((flags >> 12) & (1 << 2)) != 0;
            return latin1 ? Encoding.Latin1.GetString(bytes) : Encoding.UTF8.GetString(bytes);
        }

        private int Length()
        {
            int n = Int();
            if (n >= 0) return Checked(n);
            if (n != -1) throw new InvalidDataException($"vector length {n}");
            long upper = Int(), lower = (uint)Int();
            long length = (upper << 32) | lower;
            return Checked(length);
        }

        /// <summary>A length the rest of the data can hold (every element takes at least 4 bytes): a damaged length cannot allocate memory the file does not back.</summary>
        private int Checked(long length) =>
            length * 4 <= data.Length - _at ? (int)length : throw new InvalidDataException($"a vector of {length} elements in {data.Length - _at} remaining bytes");

        private int Int() => BinaryPrimitives.ReadInt32BigEndian(Bytes(4));

        private ReadOnlySpan<byte> Bytes(int n)
        {
            if (n < 0 || _at + n > data.Length) throw new EndOfStreamException($"the data ends at byte {data.Length}, {n} more bytes wanted at {_at}");
            var span = new ReadOnlySpan<byte>(data, _at, n);
            _at += n;
            return span;
        }
    }
}
