using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RewardedSoups.Pareto;

/// <summary>
/// A labelled set of objective vectors, e.g. the evaluated rewards of soups or of MORL policies.
/// </summary>
/// <param name="ObjectiveNames">[d] name of each objective, in column order.</param>
/// <param name="Labels">[n] label of each point; labels may repeat.</param>
/// <param name="Values">[n, d] objective values of each point, all finite.</param>
public sealed record PointSet(IReadOnlyList<string> ObjectiveNames, IReadOnlyList<string> Labels, IReadOnlyList<double[]> Values)
{
    /// <summary>Number of points.</summary>
    public int Count => Labels.Count;

    /// <summary>Number of objectives.</summary>
    public int Dimensions => ObjectiveNames.Count;
}

/// <summary>
/// Reads a <see cref="PointSet"/> from CSV or JSON, chosen by content: JSON when the first
/// non-space character is '[' or '{', CSV otherwise.
/// <para>CSV: a header row <c>label,r1,r2,…</c>, then one row per point; fields are
/// comma-separated and trimmed, and may be quoted RFC 4180 style (<c>"a, b"</c>, <c>""</c> for a
/// quote) but may not span lines; blank lines are ignored.</para>
/// <para>JSON: <c>[{"label": "a", "values": [1, 2]}, …]</c> (objectives named r1…rd) or
/// <c>{"objectives": ["r1", "r2"], "points": [ …same… ]}</c>.</para>
/// Every problem throws <see cref="SoupInputException"/> with one line naming the file and the
/// line, column or point at fault.
/// </summary>
public static class PointSetFile
{
    private const string ShapeHelp =
        "expected [{\"label\": …, \"values\": […]}, …] or {\"objectives\": […], \"points\": […]}";

    /// <summary>Reads and parses the file at <paramref name="path"/>.</summary>
    /// <exception cref="SoupInputException">The file is missing, unreadable or malformed.</exception>
    public static PointSet Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException ex)
        {
            throw new SoupInputException($"{path}: file not found", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new SoupInputException($"{path}: file not found (no such directory)", ex);
        }
        catch (IOException ex)
        {
            throw new SoupInputException($"{path}: cannot read the file: {OneLine(ex.Message)}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SoupInputException($"{path}: cannot read the file: {OneLine(ex.Message)}", ex);
        }

        return Parse(text, path);
    }

    /// <summary>
    /// Parses <paramref name="text"/> (e.g. an uploaded file); <paramref name="source"/> names it
    /// in error messages.
    /// </summary>
    /// <exception cref="SoupInputException">The text is malformed.</exception>
    public static PointSet Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        // File.ReadAllText drops a byte-order mark, but text from elsewhere may still carry one,
        // and the JSON reader rejects it.
        text = text.TrimStart('\uFEFF');
        foreach (char c in text)
        {
            if (c == '[' || c == '{')
            {
                return ParseJson(text, source);
            }

            if (!char.IsWhiteSpace(c))
            {
                return ParseCsv(text, source);
            }
        }

        throw new SoupInputException($"{source}: the file is empty");
    }

    private static PointSet ParseCsv(string text, string source)
    {
        string[] lines = text.Split('\n');
        string[]? names = null;
        int headerLine = 0;
        var labels = new List<string>();
        var values = new List<double[]>();
        for (int n = 0; n < lines.Length; n++)
        {
            int lineNumber = n + 1;
            string line = lines[n].TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            List<string> fields = SplitCsvLine(line, source, lineNumber);
            if (names is null)
            {
                names = ReadHeader(fields, source, lineNumber);
                headerLine = lineNumber;
                continue;
            }

            if (fields.Count != names.Length + 1)
            {
                throw new SoupInputException(
                    $"{source}: line {lineNumber}: expected {names.Length + 1} columns (label, {string.Join(", ", names)}), found {fields.Count}");
            }

            if (string.IsNullOrWhiteSpace(fields[0]))
            {
                throw new SoupInputException($"{source}: line {lineNumber}, column 1: empty label");
            }

            var row = new double[names.Length];
            for (int i = 0; i < names.Length; i++)
            {
                string field = fields[i + 1];
                string at = $"{source}: line {lineNumber}, column {i + 2} ({names[i]})";
                if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    throw new SoupInputException($"{at}: '{field}' is not a number");
                }

                if (!double.IsFinite(value))
                {
                    throw new SoupInputException($"{at}: '{field}' is not a finite number");
                }

                row[i] = value;
            }

            labels.Add(fields[0]);
            values.Add(row);
        }

        if (names is null)
        {
            throw new SoupInputException($"{source}: the file is empty");
        }

        if (labels.Count == 0)
        {
            throw new SoupInputException($"{source}: no data rows after the header on line {headerLine}");
        }

        return new PointSet(names, labels, values);
    }

    private static string[] ReadHeader(List<string> fields, string source, int lineNumber)
    {
        if (!string.Equals(fields[0], "label", StringComparison.OrdinalIgnoreCase))
        {
            throw new SoupInputException(
                $"{source}: line {lineNumber}, column 1: the header must start with 'label', found '{fields[0]}'");
        }

        if (fields.Count < 2)
        {
            throw new SoupInputException($"{source}: line {lineNumber}: the header names no objective columns after 'label'");
        }

        var names = new string[fields.Count - 1];
        for (int i = 1; i < fields.Count; i++)
        {
            names[i - 1] = fields[i];
        }

        RequireObjectiveNames(names, index => $"{source}: line {lineNumber}, column {index + 2}");
        return names;
    }

    /// <summary>
    /// Splits one CSV line into fields: unquoted fields are trimmed; quoted fields keep their
    /// content verbatim, with "" standing for one quote.
    /// </summary>
    private static List<string> SplitCsvLine(string line, string source, int lineNumber)
    {
        var fields = new List<string>();
        int i = 0;
        while (true)
        {
            int fieldStart = i;
            while (i < line.Length && (line[i] == ' ' || line[i] == '\t'))
            {
                i++;
            }

            if (i < line.Length && line[i] == '"')
            {
                string at = $"{source}: line {lineNumber}, column {fields.Count + 1}";
                var quoted = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw new SoupInputException($"{at}: quoted field has no closing quote (fields cannot span lines)");
                    }

                    if (line[i] != '"')
                    {
                        quoted.Append(line[i++]);
                    }
                    else if (i + 1 < line.Length && line[i + 1] == '"')
                    {
                        quoted.Append('"');
                        i += 2;
                    }
                    else
                    {
                        i++;
                        break;
                    }
                }

                while (i < line.Length && (line[i] == ' ' || line[i] == '\t'))
                {
                    i++;
                }

                if (i < line.Length && line[i] != ',')
                {
                    throw new SoupInputException($"{at}: unexpected '{line[i]}' after the closing quote");
                }

                fields.Add(quoted.ToString());
            }
            else
            {
                int comma = line.IndexOf(',', i);
                int end = comma < 0 ? line.Length : comma;
                fields.Add(line[fieldStart..end].Trim());
                i = end;
            }

            if (i >= line.Length)
            {
                return fields;
            }

            i++; // the comma; a trailing comma yields a final empty field on the next pass
        }
    }

    private static PointSet ParseJson(string text, string source)
    {
        var options = new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, options);
        }
        catch (JsonException ex)
        {
            // The reader's message ends with its own 0-based position; report ours, 1-based.
            string reason = OneLine(ex.Message);
            int position = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (position >= 0)
            {
                reason = reason[..position];
            }

            throw new SoupInputException($"{source}: line {(ex.LineNumber ?? 0) + 1}: invalid JSON: {reason}", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            string[]? names = null;
            JsonElement points;
            if (root.ValueKind == JsonValueKind.Array)
            {
                points = root;
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("points", out points))
            {
                if (root.TryGetProperty("objectives", out JsonElement objectives))
                {
                    names = ReadJsonObjectiveNames(objectives, source);
                }

                if (points.ValueKind != JsonValueKind.Array)
                {
                    throw new SoupInputException($"{source}: \"points\" is {Describe(points)}; {ShapeHelp}");
                }
            }
            else
            {
                throw new SoupInputException($"{source}: unknown JSON shape ({Describe(root)} without \"points\"); {ShapeHelp}");
            }

            return ReadJsonPoints(points, names, source);
        }
    }

    private static string[] ReadJsonObjectiveNames(JsonElement objectives, string source)
    {
        if (objectives.ValueKind != JsonValueKind.Array || objectives.GetArrayLength() == 0)
        {
            throw new SoupInputException($"{source}: \"objectives\" must be a non-empty array of names, found {Describe(objectives)}");
        }

        var names = new string[objectives.GetArrayLength()];
        int i = 0;
        foreach (JsonElement name in objectives.EnumerateArray())
        {
            if (name.ValueKind != JsonValueKind.String)
            {
                throw new SoupInputException($"{source}: objective {i + 1}: expected a name (string), found {Describe(name)}");
            }

            names[i++] = name.GetString()!.Trim();
        }

        RequireObjectiveNames(names, index => $"{source}: objective {index + 1}");
        return names;
    }

    private static PointSet ReadJsonPoints(JsonElement points, string[]? names, string source)
    {
        var labels = new List<string>();
        var values = new List<double[]>();
        int k = 0;
        foreach (JsonElement point in points.EnumerateArray())
        {
            k++;
            string at = $"{source}: point {k}";
            if (point.ValueKind != JsonValueKind.Object)
            {
                throw new SoupInputException($"{at}: expected {{\"label\": …, \"values\": […]}}, found {Describe(point)}");
            }

            if (!point.TryGetProperty("label", out JsonElement labelElement) || labelElement.ValueKind != JsonValueKind.String)
            {
                throw new SoupInputException($"{at}: \"label\" must be a string");
            }

            string label = labelElement.GetString()!;
            if (string.IsNullOrWhiteSpace(label))
            {
                throw new SoupInputException($"{at}: empty label");
            }

            at = $"{at} ('{OneLine(label)}')";
            if (!point.TryGetProperty("values", out JsonElement valuesElement) || valuesElement.ValueKind != JsonValueKind.Array)
            {
                throw new SoupInputException($"{at}: \"values\" must be an array of numbers");
            }

            int count = valuesElement.GetArrayLength();
            if (count == 0)
            {
                throw new SoupInputException($"{at}: \"values\" is empty");
            }

            // Without an "objectives" list the first point fixes the dimension for the rest.
            names ??= DefaultNames(count);
            if (count != names.Length)
            {
                throw new SoupInputException(
                    $"{at}: {count} values, expected {names.Length} ({string.Join(", ", names)})");
            }

            var row = new double[count];
            int i = 0;
            foreach (JsonElement value in valuesElement.EnumerateArray())
            {
                string valueAt = $"{at}, value {i + 1} ({names[i]})";
                if (value.ValueKind != JsonValueKind.Number)
                {
                    throw new SoupInputException($"{valueAt}: expected a number, found {Describe(value)}");
                }

                // TryGetDouble refuses numbers that overflow a double (1e999): not finite either way.
                if (!value.TryGetDouble(out double v) || !double.IsFinite(v))
                {
                    throw new SoupInputException($"{valueAt}: {value.GetRawText()} is not a finite number");
                }

                row[i++] = v;
            }

            labels.Add(label);
            values.Add(row);
        }

        if (labels.Count == 0 || names is null)
        {
            throw new SoupInputException($"{source}: no points");
        }

        return new PointSet(names, labels, values);
    }

    private static string[] DefaultNames(int count)
    {
        var names = new string[count];
        for (int i = 0; i < count; i++)
        {
            names[i] = $"r{i + 1}";
        }

        return names;
    }

    /// <summary>Objective names must be non-empty and distinct: results are keyed by them.</summary>
    private static void RequireObjectiveNames(string[] names, Func<int, string> locate)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]))
            {
                throw new SoupInputException($"{locate(i)}: empty objective name");
            }

            if (!seen.Add(names[i]))
            {
                throw new SoupInputException($"{locate(i)}: objective '{OneLine(names[i])}' is named twice");
            }
        }
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string {OneLine(element.GetRawText())}",
        _ => OneLine(element.GetRawText()),
    };

    /// <summary>Messages are one line: fold any line breaks a value or inner message carries.</summary>
    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
