using System.Text.Json.Nodes;
using RewardedSoups.Environments;
using RewardedSoups.Tasks;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// A task family that only reads configurations: task <c>fake</c>, rewards <c>a</c> and <c>b</c> over
/// terms <c>x</c> and <c>y</c>, settings <c>fake: {size, modes}</c> (<c>modes</c> soup modes, 1 to 2). Enough
/// for <see cref="Runner.ExperimentConfig"/> and the plan; nothing trains.
/// </summary>
public sealed class FakeFamily : ITaskFamily
{
    public static TaskCatalogue Catalogue { get; } = new([new FakeFamily()]);

    /// <summary>A valid configuration of this family, in YAML, with <paramref name="extra"/> lines appended (a later key may not repeat one here).</summary>
    public static string Yaml(string extra = "", string name = "fake-run") =>
        $"name: {name}\ntask: fake\npretrain: {{reward: a, steps: 10}}\nexperts: {{rewards: [a, b], steps: 10}}\n{extra}\n";

    public string Name => "fake";

    public IReadOnlyList<string> Tasks => ["fake"];

    public string SettingsKey => "fake";

    public JsonObject ResolveSettings(string task, JsonObject? section, string source)
    {
        var r = new ConfigReader(source);
        section ??= [];
        r.Keys(section, "fake", "size", "modes");
        return new JsonObject { ["size"] = r.Int(section["size"], "fake.size", 1, 1, 100), ["modes"] = r.Int(section["modes"], "fake.modes", 1, 1, 2) };
    }

    public IReadOnlyList<string> RewardTerms(string task) => ["x", "y"];

    public IReadOnlyList<RewardFunction> NamedRewards(string task) =>
        [new RewardFunction("a", new Dictionary<string, double> { ["x"] = 1 }), new RewardFunction("b", new Dictionary<string, double> { ["y"] = 1 })];

    public bool InitUsesReward => true;

    public string CostUnit => "steps";

    public long SpentBudget(TrainRole role, long budget, JsonObject settings) => budget;

    public IReadOnlyList<string> SoupModes(JsonObject settings) => settings["modes"]!.GetValue<int>() == 1 ? ["linear"] : ["linear", "other"];

    public string PolicyPath(string jobDir, TrainRole? role) => Path.Combine(jobDir, "policy");

    public void Train(TrainJobSpec spec, Action<string>? log, CancellationToken cancel) => throw new NotSupportedException();

    public void Soup(SoupJobSpec spec, CancellationToken cancel) => throw new NotSupportedException();

    public EvalFile Evaluate(EvalJobSpec spec, CancellationToken cancel) => throw new NotSupportedException();

    public JsonObject? InitDetails(string initDir) => null;

    public IShowcase OpenShowcase(ShowcaseSource source) => throw new NotSupportedException();
}
