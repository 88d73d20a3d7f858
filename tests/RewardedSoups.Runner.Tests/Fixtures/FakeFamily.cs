using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using RewardedSoups.Environments;
using RewardedSoups.Tasks;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// A task family that only reads configurations: task <c>fake</c>, rewards <c>a</c> and <c>b</c> over
/// terms <c>x</c> and <c>y</c>, settings <c>fake: {size, modes}</c> (<c>modes</c> soup modes, 1 to 2). Enough
/// for <see cref="Runner.ExperimentConfig"/> and the plan. Nothing trains: a training or a soup records its
/// spec and writes a placeholder policy file; an evaluation of a folder with one returns <see cref="Returns"/>.
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

    public ISettingsSection ReadSettings(string task, JsonObject? section, ConfigReader reader) => SettingsSection.Read<FakeSettings>(section, reader, SettingsKey);

    public IReadOnlyList<string> RewardTerms(string task) => ["x", "y"];

    public IReadOnlyList<RewardFunction> NamedRewards(string task) =>
        [new RewardFunction("a", new Dictionary<string, double> { ["x"] = 1 }), new RewardFunction("b", new Dictionary<string, double> { ["y"] = 1 })];

    public bool InitUsesReward => true;

    public string CostUnit => "steps";

    public string EvaluationUnit => "episodes";

    public string EnsembleCombination => "fake: the experts' outputs weighted by λ";

    /// <summary>Every spec the jobs run through this instance asked for, in order (jobs may run on several threads).</summary>
    public ConcurrentQueue<object> Specs { get; } = new();

    /// <summary>What <see cref="Evaluate"/> returns, [reward][episode]; by default every episode of reward i returns i.</summary>
    public Func<EvalJobSpec, double[][]>? Returns { get; init; }

    /// <summary>Budgets are spent in whole batches of this size (1: as asked).</summary>
    public long Batch { get; init; } = 1;

    public long SpentBudget(TrainRole role, long budget, ISettingsSection settings) => (budget + Batch - 1) / Batch * Batch;

    public IReadOnlyList<string> SoupModes(ISettingsSection settings) => ((FakeSettings)settings).Modes == 1 ? ["linear"] : ["linear", "other"];

    public string PolicyPath(string jobDir, TrainRole? role) => Path.Combine(jobDir, "policy");

    public void Train(TrainJobSpec spec, Action<string>? log, CancellationToken cancel) => WritePolicy(spec.Dir, spec);

    public void Soup(SoupJobSpec spec, CancellationToken cancel) => WritePolicy(spec.Dir, spec);

    public EvalFile Evaluate(EvalJobSpec spec, CancellationToken cancel)
    {
        if (spec.Ensemble is { } ensemble)
        {
            ensemble.Check();
            foreach (string dir in ensemble.ExpertDirs)
                if (!File.Exists(PolicyPath(dir, null))) throw new SoupInputException($"{dir}: no policy to combine");
        }
        else if (!File.Exists(PolicyPath(spec.PolicyDir, null))) throw new SoupInputException($"{spec.PolicyDir}: no policy to evaluate");
        Specs.Enqueue(spec);
        int episodes = spec.Episodes * spec.Seeds.Count;
        double[][] returns = Returns?.Invoke(spec) ?? spec.Rewards.Select((_, i) => Enumerable.Repeat((double)i, episodes).ToArray()).ToArray();
        // Inference: one pass per episode and member, 10 ms each (an ensemble of k members costs k times a single policy).
        int members = spec.Ensemble?.Members.Count ?? 1;
        return new EvalFile(spec.Rewards.Select(r => r.Name).ToList(), returns, returns[0].Length,
            Inference: InferenceCost.Of((long)members * returns[0].Length, 0.01 * members * returns[0].Length, returns[0].Length));
    }

    private void WritePolicy(string dir, object spec)
    {
        Specs.Enqueue(spec);
        File.WriteAllText(PolicyPath(dir, null), "placeholder policy\n");
    }

    public JsonObject? InitDetails(string initDir) => null;

    public IShowcase OpenShowcase(ShowcaseSource source) => throw new NotSupportedException();
}

/// <summary>The fake family's section: <c>size</c> (1 to 100) and <c>modes</c> (how many soup modes, 1 or 2).</summary>
public sealed record FakeSettings : ISettingsSection
{
    [Range(1, 100)]
    public int Size { get; init; } = 1;

    [Range(1, 2)]
    public int Modes { get; init; } = 1;
}
