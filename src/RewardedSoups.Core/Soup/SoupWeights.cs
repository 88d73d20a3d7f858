using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace RewardedSoups.Soup;

/// <summary>
/// The weights λ of a soup θ = Σ λᵢ θᵢ, checked once where they enter (the command line, a configuration,
/// an HTTP request) and passed inward as this type, so no code further in checks them again or meets
/// unchecked ones. A rewarded soup lives on the simplex: finite, non-negative, summing to 1 within
/// <see cref="SumTolerance"/>. Extrapolation (task-arithmetic style: negative weights, any sum) is
/// accepted only when asked for (<see cref="AllowsExtrapolation"/>), and merges record it.
/// Immutable; equal when the weights and the permission are.
/// A collection expression (<c>[0.3, 0.7]</c>) makes simplex weights through <see cref="Of(ReadOnlySpan{double})"/>.
/// </summary>
[CollectionBuilder(typeof(SoupWeights), nameof(Of))]
public sealed class SoupWeights : IReadOnlyList<double>, IEquatable<SoupWeights>
{
    public const double SumTolerance = 1e-6;

    private readonly double[] _weights;

    private SoupWeights(double[] weights, bool allowsExtrapolation)
    {
        _weights = weights;
        AllowsExtrapolation = allowsExtrapolation;
        Extrapolates = weights.Any(w => w < 0) || Math.Abs(weights.Sum() - 1) > SumTolerance;
    }

    /// <summary>True when these weights were accepted with extrapolation allowed (whether or not they use it).</summary>
    public bool AllowsExtrapolation { get; }

    /// <summary>True when the weights leave the simplex (some negative, or a sum other than 1).</summary>
    public bool Extrapolates { get; }

    public int Count => _weights.Length;

    public double this[int index] => _weights[index];

    /// <summary>Uniform weights 1/n.</summary>
    public static SoupWeights Uniform(int n, bool allowExtrapolation = false)
    {
        if (n < 1) throw new SoupInputException("no input checkpoints given");
        return new SoupWeights(Enumerable.Repeat(1.0 / n, n).ToArray(), allowExtrapolation);
    }

    /// <summary>Simplex weights (the collection expressions' builder); throws with one line naming the offending weight.</summary>
    public static SoupWeights Of(ReadOnlySpan<double> weights) => Of(weights.ToArray(), allowExtrapolation: false);

    /// <summary>
    /// Checks <paramref name="weights"/>; throws with one line naming the offending weight, and
    /// <paramref name="remedy"/> (e.g. the option that allows extrapolation where one does) when the weights leave the simplex.
    /// </summary>
    public static SoupWeights Of(IEnumerable<double> weights, bool allowExtrapolation = false, string? remedy = null)
    {
        string hint = remedy is null ? "" : "; " + remedy;
        double[] w = weights.ToArray();
        if (w.Length == 0) throw new SoupInputException("weights: none given");
        for (int i = 0; i < w.Length; i++)
        {
            if (!double.IsFinite(w[i]))
                throw new SoupInputException($"weights: weight {i + 1} is {Format(w[i])}; weights must be finite");
            if (!allowExtrapolation && w[i] < 0)
                throw new SoupInputException($"weights: weight {i + 1} is {Format(w[i])}; weights must be non-negative{hint}");
            if (w[i] == 0) w[i] = 0; // +0, never −0: equal weights print and compare alike
        }
        if (!allowExtrapolation)
        {
            double sum = w.Sum();
            if (Math.Abs(sum - 1) > SumTolerance)
                throw new SoupInputException($"weights: sum to {Format(sum)}, not 1 (tolerance {SumTolerance:g}){hint}");
        }
        return new SoupWeights(w, allowExtrapolation);
    }

    /// <summary>Parses and checks <c>w1,w2,...</c> (invariant culture, e.g. <c>0.3,0.7</c>); <paramref name="remedy"/> as <see cref="Of(IEnumerable{double}, bool, string?)"/>.</summary>
    public static SoupWeights Parse(string text, bool allowExtrapolation = false, string? remedy = null)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var weights = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out weights[i]))
                throw new SoupInputException($"weights: {Printable.Quote(parts[i], 32)} (weight {i + 1}) is not a number");
        }
        return Of(weights, allowExtrapolation, remedy);
    }

    /// <summary>These weights, checked to be one per input of a merge of <paramref name="inputs"/>.</summary>
    public SoupWeights For(int inputs) =>
        Count == inputs ? this : throw new SoupInputException($"weights: {Count} given for {inputs} inputs");

    public double[] ToArray() => (double[])_weights.Clone();

    public IEnumerator<double> GetEnumerator() => ((IEnumerable<double>)_weights).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Equals(SoupWeights? other) =>
        other is not null && AllowsExtrapolation == other.AllowsExtrapolation && _weights.AsSpan().SequenceEqual(other._weights);

    public override bool Equals(object? obj) => Equals(obj as SoupWeights);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(AllowsExtrapolation);
        foreach (double w in _weights) hash.Add(w);
        return hash.ToHashCode();
    }

    /// <summary>The weights as metadata and logs write them: <c>[0.3,0.7]</c>, each round-tripping.</summary>
    public override string ToString() => "[" + string.Join(",", _weights.Select(Format)) + "]";

    public static string Format(double w) => w.ToString("R", CultureInfo.InvariantCulture);
}
