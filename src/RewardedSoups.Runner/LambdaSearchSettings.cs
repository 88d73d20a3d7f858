using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RewardedSoups.Tasks;

namespace RewardedSoups.Runner;

/// <summary>
/// <c>lambda_search: {rounds, step, at}</c>: the search beyond the λ grid for λ*(μ) (<see cref="Pareto.LambdaSearch"/>).
/// <c>rounds</c> (1–<see cref="MaxRounds"/>) of proposals δ away from the best soup so far, δ = <c>step</c> in the first round
/// and halved in every next one (default: half the grid's spacing, so that round 1 bisects the grid's cells); <c>at</c>:
/// <c>morl</c> (MORL's preferences, where λ*(μ) meets MORL's policy) or <c>all</c> (the expected-utility grid's too).
/// </summary>
public sealed record LambdaSearchSettings
{
    public const string AtMorl = "morl";
    public const string AtAll = "all";
    public const int MaxRounds = 5;

    /// <summary>The smallest step a round may take: proposals closer than this to each other are not worth an evaluation.</summary>
    public const double MinStep = 0.001;

    [JsonPropertyName("rounds")] public required int Rounds { get; init; }
    [JsonPropertyName("step")] public required double Step { get; init; }
    [JsonPropertyName("at")] public required string At { get; init; }

    /// <summary>The step of a round (1-based).</summary>
    public double StepOf(int round) => Pareto.LambdaSearch.Step(Step, round);

    /// <summary>Reads the section; <paramref name="soups"/> (the <c>soups</c> section) gives the default step.</summary>
    public static LambdaSearchSettings Read(ConfigReader r, JsonObject section, string path, JsonObject soups, int morlPreferences)
    {
        r.Keys(section, path, "rounds", "step", "at");
        double fallback = soups["step"] is not null ? r.Double(soups["step"], "soups.step", 0.1) / 2
            : soups["divisions"] is not null ? 0.5 / r.Int(soups["divisions"], "soups.divisions", 10, 1)
            : 0.05;
        var settings = new LambdaSearchSettings
        {
            Rounds = r.Int(section["rounds"], $"{path}.rounds", 2, 1, MaxRounds),
            Step = r.Double(section["step"], $"{path}.step", fallback),
            At = section["at"] is null ? AtMorl : r.String(section["at"]!, $"{path}.at"),
        };
        settings.Check(r, path, morlPreferences, keys: ("rounds", "step", "at"));
        return settings;
    }

    /// <summary>The checks of <see cref="Read"/>, also made on a resolved configuration (which anyone may have written).</summary>
    public void Check(ConfigReader r, string path, int morlPreferences) => Check(r, path, morlPreferences, ("Rounds", "Step", "At"));

    private void Check(ConfigReader r, string path, int morlPreferences, (string Rounds, string Step, string At) keys)
    {
        if (Rounds is < 1 or > MaxRounds) throw r.Error($"{path}.{keys.Rounds}", $"must be between 1 and {MaxRounds}, got {Rounds}");
        string shown = Step.ToString(CultureInfo.InvariantCulture);
        if (!(Step > 0 && Step <= 0.5)) throw r.Error($"{path}.{keys.Step}", $"must be in (0, 0.5], got {shown}");
        if (StepOf(Rounds) < MinStep)
            throw r.Error($"{path}.{keys.Step}", $"{shown} halved over {Rounds} rounds ends at {StepOf(Rounds).ToString("G4", CultureInfo.InvariantCulture)}, below {MinStep}: fewer rounds or a larger step");
        if (At is not (AtMorl or AtAll)) throw r.Error($"{path}.{keys.At}", $"must be '{AtMorl}' or '{AtAll}', got '{ConfigReader.Cut(At)}'");
        if (At == AtMorl && morlPreferences == 0)
            throw r.Error($"{path}.{keys.At}", "is 'morl' but the run has no morl.preferences: add some, or search at 'all' (the expected-utility grid)");
    }
}
