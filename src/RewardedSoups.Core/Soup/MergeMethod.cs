namespace RewardedSoups.Soup;

/// <summary>A parameter a merge method takes, with its default, for help texts and results files.</summary>
public sealed record MergeParameter(string Name, string Default, string Meaning);

/// <summary>
/// A merge method describes itself (name, summary, parameters, reference), in the way of mergekit's
/// method registry; <see cref="MergeMethods"/> lists them. Rewarded soups need only the linear
/// method; the registry is where later methods (task arithmetic with a base, TIES, …) go.
/// </summary>
public sealed record MergeMethod(string Name, string Summary, IReadOnlyList<MergeParameter> Parameters, string Reference);

public static class MergeMethods
{
    public static MergeMethod Linear { get; } = new(
        "linear",
        "Weighted average of the inputs, θ = Σ wᵢ θᵢ, tensor by tensor, accumulated in float32 (float64 for F64).",
        [
            new MergeParameter("weights", "uniform 1/N", "one weight per input, finite, non-negative, summing to 1"),
            new MergeParameter("allow-extrapolation", "false", "accept any finite weights (negative, any sum), as task arithmetic does"),
        ],
        "Wortsman et al., Model soups, ICML 2022; Ramé et al., Rewarded soups, NeurIPS 2023");

    public static IReadOnlyList<MergeMethod> All { get; } = [Linear];

    public static MergeMethod Get(string name) =>
        All.FirstOrDefault(m => m.Name == name)
        ?? throw new SoupInputException($"unknown merge method '{name}'; valid: {string.Join(", ", All.Select(m => m.Name))}");
}
