namespace RewardedSoups.Pareto;

/// <summary>
/// Argument checks shared by the Pareto functions. These are programming errors (the file loaders
/// turn bad user input into <see cref="SoupInputException"/> before anything reaches here), so
/// they throw <see cref="ArgumentException"/>, naming the offending index.
/// </summary>
internal static class PointArguments
{
    /// <summary>
    /// Checks that <paramref name="points"/> is a rectangular [n, d] set with d ≥ 1 and no NaN
    /// (or, when <paramref name="requireFinite"/>, no infinity either). Returns d, or 0 when the
    /// set is empty.
    /// </summary>
    public static int RequireRectangular(IReadOnlyList<double[]> points, bool requireFinite, string paramName)
    {
        ArgumentNullException.ThrowIfNull(points, paramName);
        if (points.Count == 0)
        {
            return 0;
        }

        int dims = -1;
        for (int k = 0; k < points.Count; k++)
        {
            double[]? point = points[k];
            if (point is null)
            {
                throw new ArgumentException($"{paramName}[{k}] is null", paramName);
            }

            if (dims < 0)
            {
                dims = point.Length;
                if (dims == 0)
                {
                    throw new ArgumentException($"{paramName}[0] has no objectives", paramName);
                }
            }
            else if (point.Length != dims)
            {
                throw new ArgumentException(
                    $"{paramName}[{k}] has {point.Length} objectives but {paramName}[0] has {dims}", paramName);
            }

            RequireValues(point, requireFinite, $"{paramName}[{k}]", paramName);
        }

        return dims;
    }

    /// <summary>Throws if a value is NaN (or, when <paramref name="requireFinite"/>, infinite).</summary>
    public static void RequireValues(ReadOnlySpan<double> values, bool requireFinite, string name, string paramName)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (double.IsNaN(v) || (requireFinite && double.IsInfinity(v)))
            {
                string expected = requireFinite ? "a finite number" : "a number";
                throw new ArgumentException($"{name}[{i}] is {v}; expected {expected}", paramName);
            }
        }
    }
}
