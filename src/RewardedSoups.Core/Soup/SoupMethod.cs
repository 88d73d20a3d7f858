using System.Text.Json.Nodes;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>
/// How an experiment's soups of one kind are made: a merge method with its parameters, under a label
/// (the method's name unless the configuration gives one) that names its soups, jobs and front.
/// </summary>
public sealed record SoupMethod(string Label, IMergeMethod Method, ISettingsSection Parameters)
{
    /// <summary>The linear soup, rewarded soups' own.</summary>
    public static SoupMethod Linear { get; } = new("linear", MergeMethods.Linear, MergeMethods.Linear.DefaultParameters);

    /// <summary>True for the linear method (which a family may make in several modes, e.g. LoRA's delta and factors).</summary>
    public bool IsLinear => Method == MergeMethods.Linear;

    /// <summary>
    /// The in-memory merge of <paramref name="inputs"/> experts at <paramref name="lambda"/> by this method, with a base
    /// (the init) exactly when the method needs one: the values the run's soup job of this method writes.
    /// </summary>
    public MemoryMerge InMemory(int inputs, SoupWeights lambda) => new(inputs, lambda, Method, Parameters, hasBase: Method.NeedsBase);

    /// <summary>The method as a configuration writes it: <c>{method, label, …parameters}</c>, every default written out.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["method"] = Method.Name, ["label"] = Label };
        foreach ((string key, JsonNode? value) in SettingsSection.ToJson(Parameters)) json[key] = value?.DeepClone();
        return json;
    }

    /// <summary>
    /// One entry of <c>soups.methods</c>: a method's name, or <c>{method: NAME, label: …, parameters…}</c>; the
    /// parameters are bound strictly like any section (a key the method does not take names itself).
    /// </summary>
    public static SoupMethod Read(JsonNode node, ConfigReader reader, string path)
    {
        if (node is JsonValue v && v.TryGetValue(out string? name))
        {
            IMergeMethod named = Get(name, reader, path);
            return new SoupMethod(named.Name, named, named.DefaultParameters);
        }
        JsonObject entry = reader.Object(node, path);
        IMergeMethod method = Get(reader.String(reader.Required(entry, "method", path), $"{path}.method"), reader, $"{path}.method");
        string label = entry["label"] is null ? method.Name : reader.String(entry["label"]!, $"{path}.label");
        var parameters = new JsonObject();
        foreach ((string key, JsonNode? value) in entry)
            if (key is not ("method" or "label")) parameters[key] = value?.DeepClone();
        return new SoupMethod(label, method, MergeMethods.ReadParameters(method, parameters, reader, path));
    }

    private static IMergeMethod Get(string name, ConfigReader reader, string path) =>
        MergeMethods.Find(name) ?? throw reader.Error(path, MergeMethods.Unknown(name));
}
