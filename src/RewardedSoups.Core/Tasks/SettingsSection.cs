using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RewardedSoups.Tasks;

/// <summary>
/// A settings record that <i>is</i> a configuration section: its public settable properties are the
/// section's keys (snake_case of the property name, the one spelling everywhere: config, resolved
/// config, errors, command-line options), their initial values are the defaults, <see cref="RangeAttribute"/>
/// bounds them, and <see cref="Check"/> holds the rules that tie keys together. Nested sections are
/// properties of another <see cref="ISettingsSection"/> type. <see cref="SettingsSection.Read{T}(JsonObject?, ConfigReader, string)"/> binds one
/// strictly, once, where the configuration is read; inner code trusts it.
/// </summary>
public interface ISettingsSection
{
    /// <summary>Rules across keys, run after every key is bound and in range; throw <see cref="SettingsCheck.Fail"/>.</summary>
    void Check(SettingsCheck check) { }
}

/// <summary>What <see cref="ISettingsSection.Check"/> reports through: errors name the file and the section's key path.</summary>
public sealed class SettingsCheck(ConfigReader reader, string path)
{
    /// <summary>The full path of a key of this section (<c>text.ppo.batch</c>), to name it in a message.</summary>
    public string Key(string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>The one-line error of a key of this section.</summary>
    public SoupInputException Fail(string key, string message) => reader.Error(Key(key), message);
}

/// <summary>Binds, checks and writes <see cref="ISettingsSection"/> records.</summary>
public static class SettingsSection
{
    /// <summary>How sections are written (the resolved configuration, job settings): the keys a user writes.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        // A record built in code may hold NaN or ±∞; written as text, Validate then names the key instead of failing to write it.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The key of a property: its name in snake_case.</summary>
    public static string Key(PropertyInfo property) => JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);

    /// <summary>The keys of a section type, in declaration order.</summary>
    public static IReadOnlyList<string> Keys(Type type) => Settable(type).Select(Key).ToList();

    /// <summary>
    /// Binds <paramref name="section"/> (null: every default) at <paramref name="path"/> strictly: an unknown key,
    /// a value of the wrong type or out of its range, or a broken rule is one line naming the file and the key.
    /// </summary>
    public static T Read<T>(JsonObject? section, ConfigReader reader, string path) where T : ISettingsSection, new() =>
        Read(section, reader, path, new T());

    /// <summary>
    /// Binds <paramref name="section"/> like <see cref="Read{T}(JsonObject?, ConfigReader, string)"/>, onto a copy of
    /// <paramref name="defaults"/> instead of <c>new T()</c>: a key absent from the section keeps the default's value,
    /// and a nested section is bound onto the default's nested value (a section whose defaults depend on a key, a preset).
    /// <paramref name="defaults"/> itself is not changed.
    /// </summary>
    public static T Read<T>(JsonObject? section, ConfigReader reader, string path, T defaults) where T : ISettingsSection =>
        (T)Bind(defaults, section, reader, path);

    /// <summary>The section as a JSON object with its keys (every default written out).</summary>
    public static JsonObject ToJson(ISettingsSection settings) =>
        JsonSerializer.SerializeToNode(settings, settings.GetType(), Json)!.AsObject();

    /// <summary>
    /// Checks a record built in code (a command line's options, a library caller) like a configuration:
    /// every ranged key and every rule, errors naming <paramref name="path"/>'s keys. The keys are bound onto a copy
    /// of <paramref name="settings"/>, so its values that are not keys (<c>[JsonIgnore]</c>) are there for the rules too.
    /// </summary>
    public static void Validate(ISettingsSection settings, string path) =>
        Bind(settings, ToJson(settings), new ConfigReader(""), path);

    /// <summary>A shallow copy of a section: its keys are then set on the copy, nested sections replaced by bound copies of their own.</summary>
    private static readonly MethodInfo CopyMethod = typeof(object).GetMethod(nameof(MemberwiseClone), BindingFlags.NonPublic | BindingFlags.Instance)!;

    private static object Bind(ISettingsSection defaults, JsonObject? section, ConfigReader reader, string path)
    {
        Type type = defaults.GetType();
        object value = CopyMethod.Invoke(defaults, null)!;
        List<PropertyInfo> properties = Settable(type);
        section ??= [];
        reader.Keys(section, path, properties.Select(Key).ToArray());
        foreach (PropertyInfo property in properties)
        {
            JsonNode? node = section[Key(property)];
            if (node is null) continue;
            property.SetValue(value, ReadValue(property, property.GetValue(value), node, reader, $"{path}.{Key(property)}"));
        }
        ((ISettingsSection)value).Check(new SettingsCheck(reader, path));
        return value;
    }

    private static object? ReadValue(PropertyInfo property, object? current, JsonNode node, ConfigReader reader, string path)
    {
        Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        RangeAttribute? range = property.GetCustomAttribute<RangeAttribute>();
        if (type == typeof(int))
            return reader.Int(node, path, 0, Convert.ToInt32(range?.Minimum ?? int.MinValue, CultureInfo.InvariantCulture),
                Convert.ToInt32(range?.Maximum ?? int.MaxValue, CultureInfo.InvariantCulture));
        if (type == typeof(long))
            return reader.Long(node, path, Convert.ToInt64(range?.Minimum ?? long.MinValue, CultureInfo.InvariantCulture),
                Convert.ToInt64(range?.Maximum ?? long.MaxValue, CultureInfo.InvariantCulture));
        if (type == typeof(double) || type == typeof(float))
        {
            double x = reader.Double(node, path, 0);
            if (range is not null) CheckRange(reader, path, x, range);
            if (type == typeof(float) && Math.Abs(x) > float.MaxValue) throw reader.Error(path, $"must be at most {float.MaxValue:G9} in size, got {Show(x)}");
            if (type == typeof(float)) return (float)x;
            return x;
        }
        if (type == typeof(bool)) return reader.Bool(node, path, false);
        if (type == typeof(string)) return reader.String(node, path);
        if (type == typeof(IReadOnlyList<string>))
            return reader.Array(node, path).Select((item, i) => reader.String(item ?? throw reader.Error($"{path}[{i}]", "is empty"), $"{path}[{i}]")).ToList();
        if (typeof(ISettingsSection).IsAssignableFrom(type))
        {
            var nested = current as ISettingsSection ?? Activator.CreateInstance(type) as ISettingsSection
                ?? throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name}: {type.Name} has no default and no parameterless constructor");
            return Bind(nested, reader.Object(node, path), reader, path);
        }
        throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name}: settings of type {type.Name} are not supported");
    }

    private static void CheckRange(ConfigReader reader, string path, double x, RangeAttribute range)
    {
        double min = Convert.ToDouble(range.Minimum, CultureInfo.InvariantCulture), max = Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture);
        bool aboveMin = range.MinimumIsExclusive ? x > min : x >= min;
        bool belowMax = range.MaximumIsExclusive ? x < max : x <= max;
        if (aboveMin && belowMax) return;
        if (double.IsPositiveInfinity(max) || max == double.MaxValue)
            throw reader.Error(path, $"must be {(range.MinimumIsExclusive ? ">" : "≥")} {Show(min)}, got {Show(x)}");
        throw reader.Error(path, $"must be in {(range.MinimumIsExclusive ? "(" : "[")}{Show(min)}, {Show(max)}{(range.MaximumIsExclusive ? ")" : "]")}, got {Show(x)}");
    }

    private static string Show(double x) => x.ToString(CultureInfo.InvariantCulture);

    private static List<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .OrderBy(p => p.MetadataToken)
            .ToList();
}
