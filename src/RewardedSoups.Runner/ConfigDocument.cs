using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Tasks;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace RewardedSoups.Runner;

/// <summary>
/// Reads a configuration file into JSON nodes within <see cref="ConfigLimits"/>: a regular file (a
/// FIFO, device or socket is refused before it is opened, so nothing blocks), at most
/// <see cref="ConfigLimits.MaxFileBytes"/> read whatever the file claims, nesting and node count
/// bounded, YAML aliases expanded only within the node budget, keys plain and unique, every number
/// finite. Each error is a <see cref="SoupInputException"/> naming the file and the key path.
/// </summary>
public static class ConfigDocument
{
    /// <summary>The document of a YAML or JSON file (JSON when it is named <c>*.json</c> or starts with <c>{</c>).</summary>
    public static JsonNode? Read(string path)
    {
        byte[] bytes = ReadBytes(path);
        ReadOnlySpan<byte> utf8 = bytes.AsSpan();
        if (utf8.StartsWith(Encoding.UTF8.Preamble)) utf8 = utf8[Encoding.UTF8.Preamble.Length..];
        bool json = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || FirstNonBlank(utf8) == '{';
        return json ? FromJson(utf8, path) : FromYaml(Encoding.UTF8.GetString(utf8), path);
    }

    /// <summary>The file's bytes: a regular file, not empty, within the size limit (checked before opening, and again while reading).</summary>
    internal static byte[] ReadBytes(string path)
    {
        var info = new FileInfo(path);
        FileSystemInfo target;
        try { target = info.ResolveLinkTarget(returnFinalTarget: true) ?? info; }
        catch (IOException e) { throw new SoupInputException($"{path}: cannot follow its symbolic link: {e.Message}"); }
        if (Directory.Exists(target.FullName)) throw new SoupInputException($"{path}: is a folder, not a configuration file");
        if (!target.Exists) throw new SoupInputException($"{path}: no such configuration file");
        // .NET tells a FIFO, a device or a socket from a regular file by nothing but its size, which Linux
        // reports as 0 for all of them; so an empty size is refused here, before open() could block on a FIFO
        // or stream a device without end. An empty regular file is no configuration either.
        long length = new FileInfo(target.FullName).Length;
        if (length == 0) throw new SoupInputException($"{path}: empty, or not a regular file (a FIFO, device or socket); a configuration is a YAML or JSON file");
        if (length > ConfigLimits.MaxFileBytes) throw TooLarge(path, $"is {length} bytes");
        try
        {
            using var stream = new FileStream(target.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            // The file may have grown since its size was read: read to its end, but one byte past the limit at most.
            byte[] buffer = new byte[length + 1];
            int read = 0;
            while (true)
            {
                if (read == buffer.Length)
                {
                    if (read > ConfigLimits.MaxFileBytes) throw TooLarge(path, "grew past the limit while it was read");
                    Array.Resize(ref buffer, (int)Math.Min(2L * read, ConfigLimits.MaxFileBytes + 1L));
                }
                int n = stream.Read(buffer, read, buffer.Length - read);
                if (n == 0) return buffer[..read];
                read += n;
            }
        }
        catch (UnauthorizedAccessException e)
        {
            throw new SoupInputException($"{path}: cannot be read: {e.Message}");
        }
    }

    private static SoupInputException TooLarge(string path, string what) =>
        new($"{path}: {what}; a configuration may be at most {ConfigLimits.MaxFileBytes} bytes (1 MiB)");

    private static int FirstNonBlank(ReadOnlySpan<byte> utf8)
    {
        int i = utf8.IndexOfAnyExcept(" \t\r\n"u8);
        return i < 0 ? -1 : utf8[i];
    }

    /// <summary>JSON, read token by token: depth, node count, duplicate keys and finite numbers checked with the key path.</summary>
    internal static JsonNode? FromJson(ReadOnlySpan<byte> utf8, string source)
    {
        var builder = new Builder(source);
        // The reader's own depth limit lies beyond ours, so ours, which names the key, is met first.
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = ConfigLimits.MaxDepth + 2 });
        try
        {
            if (!reader.Read()) throw new SoupInputException($"{source}: empty JSON document");
            JsonNode? root = ReadJson(ref reader, builder, "", 0);
            if (reader.Read()) throw new SoupInputException($"{source}: not valid JSON: more than one value");
            return root;
        }
        catch (JsonException e)
        {
            throw new SoupInputException($"{source}: not valid JSON: {e.Message.Split('\n')[0]}");
        }
    }

    private static JsonNode? ReadJson(ref Utf8JsonReader reader, Builder b, string path, int depth)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                b.Enter(path, depth);
                var obj = new JsonObject();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    string key = reader.GetString()!;
                    string at = Builder.Key(path, key);
                    reader.Read();
                    b.Add(obj, key, at, ReadJson(ref reader, b, at, depth + 1));
                }
                return obj;
            }
            case JsonTokenType.StartArray:
            {
                b.Enter(path, depth);
                var array = new JsonArray();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    array.Add(ReadJson(ref reader, b, $"{path}[{array.Count}]", depth + 1));
                return array;
            }
            case JsonTokenType.String:
                b.Count(path, 1);
                return JsonValue.Create(reader.GetString()!);
            case JsonTokenType.Number:
                b.Count(path, 1);
                if (reader.TryGetInt64(out long l)) return JsonValue.Create(l);
                string text = Encoding.UTF8.GetString(reader.ValueSpan);
                return b.Finite(reader.TryGetDouble(out double d) ? d : double.NaN, text, path);
            case JsonTokenType.True or JsonTokenType.False:
                b.Count(path, 1);
                return JsonValue.Create(reader.GetBoolean());
            default:
                b.Count(path, 1);
                return null;
        }
    }

    /// <summary>
    /// YAML, driven event by event (no recursive composer): depth and node count checked as the events
    /// come, so 100,000 nested brackets stop at the limit. Anchors may be used; each alias counts its
    /// nodes again against the budget (a "billion laughs" stops before it grows). A key must be a
    /// scalar. Plain scalars are typed as before: null, true/false, whole numbers, other numbers, text.
    /// </summary>
    public static JsonNode? FromYaml(string text, string source)
    {
        var builder = new Builder(source);
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _)) throw new SoupInputException($"{source}: expected one YAML document, found 0");
            parser.Consume<DocumentStart>();
            JsonNode? root = ReadYaml(parser, builder, "", 0);
            parser.Consume<DocumentEnd>();
            if (!parser.Accept<StreamEnd>(out _)) throw new SoupInputException($"{source}: expected one YAML document, found more");
            return root;
        }
        catch (YamlException e)
        {
            throw new SoupInputException($"{source}: not valid YAML at line {e.Start.Line}: {e.Message.Split('\n')[0]}");
        }
    }

    private static JsonNode? ReadYaml(IParser parser, Builder b, string path, int depth)
    {
        if (Take<AnchorAlias>(parser) is { } alias) return b.Expand(alias.Value.Value, path);
        int before = b.Nodes;
        JsonNode? node;
        AnchorName anchor;
        if (Take<Scalar>(parser) is { } scalar)
        {
            b.Count(path, 1);
            node = Typed(scalar, b, path);
            anchor = scalar.Anchor;
        }
        else if (Take<SequenceStart>(parser) is { } seq)
        {
            b.Enter(path, depth);
            var array = new JsonArray();
            while (!parser.TryConsume<SequenceEnd>(out _))
                array.Add(ReadYaml(parser, b, $"{path}[{array.Count}]", depth + 1));
            node = array;
            anchor = seq.Anchor;
        }
        else
        {
            MappingStart map = parser.Consume<MappingStart>();
            b.Enter(path, depth);
            var obj = new JsonObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (Take<Scalar>(parser) is not { } key)
                {
                    string found = parser.Current switch { SequenceStart => "a list", MappingStart => "a mapping", AnchorAlias => "an alias", _ => "not a name" };
                    throw b.Error(path, $"a key must be a plain name, found {found} (line {parser.Current?.Start.Line})");
                }
                string at = Builder.Key(path, key.Value);
                b.Add(obj, key.Value, at, ReadYaml(parser, b, at, depth + 1));
            }
            node = obj;
            anchor = map.Anchor;
        }
        if (!anchor.IsEmpty) b.Anchor(anchor.Value, node, b.Nodes - before);
        return node;
    }

    /// <summary>The current event when it is a <typeparamref name="T"/>, consumed; else null, nothing consumed.</summary>
    private static T? Take<T>(IParser parser) where T : ParsingEvent
    {
        if (parser.Current is not T e) return null;
        parser.MoveNext();
        return e;
    }

    private static JsonNode? Typed(Scalar s, Builder b, string path)
    {
        string v = s.Value;
        if (s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted) return JsonValue.Create(v);
        if (v is "" or "~" or "null") return null;
        if (v is "true" or "false") return JsonValue.Create(v == "true");
        if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return b.Finite(d, v, path);
        return JsonValue.Create(v);
    }

    /// <summary>Counts and checks the nodes of one document as they are built.</summary>
    private sealed class Builder(string source)
    {
        private readonly ConfigReader _reader = new(source);
        private readonly Dictionary<string, (JsonNode? Node, int Nodes)> _anchors = [];

        public int Nodes { get; private set; }

        public static string Key(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

        public SoupInputException Error(string path, string message) => _reader.Error(path, message);

        public void Count(string path, int nodes)
        {
            if (Nodes + (long)nodes > ConfigLimits.MaxNodes)
                throw Error(path, $"the document grows past {ConfigLimits.MaxNodes} values (every value, list and mapping counts, and a YAML alias its nodes again each time); a configuration needs a few hundred");
            Nodes += nodes;
        }

        /// <summary>A mapping or list opened at <paramref name="depth"/> (the root is 0).</summary>
        public void Enter(string path, int depth)
        {
            if (depth >= ConfigLimits.MaxDepth)
                throw Error(path, $"nested deeper than {ConfigLimits.MaxDepth} levels; a configuration needs 5");
            Count(path, 1);
        }

        public void Add(JsonObject obj, string key, string path, JsonNode? value)
        {
            if (obj.ContainsKey(key)) throw Error(path, "the key appears twice");
            obj[key] = value;
        }

        public JsonNode Finite(double value, string text, string path) =>
            double.IsFinite(value) ? JsonValue.Create(value) : throw Error(path, $"{ConfigReader.Cut(text)} is not a finite number");

        public void Anchor(string name, JsonNode? node, int nodes) => _anchors[name] = (node, nodes);

        public JsonNode? Expand(string name, string path)
        {
            if (!_anchors.TryGetValue(name, out var anchored)) throw Error(path, $"alias *{ConfigReader.Cut(name)} names no anchor before it");
            Count(path, anchored.Nodes);
            return anchored.Node?.DeepClone();
        }
    }
}
