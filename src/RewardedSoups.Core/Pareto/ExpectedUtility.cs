namespace RewardedSoups.Pareto;

/// <summary>
/// Expected utility of a point set under linear utilities: the mean, over a set of preference
/// vectors w, of the best utility w · p any point p offers. Higher is better; unlike
/// hypervolume it needs no reference point and rewards fronts that serve many preferences well.
/// Zintgraf, Kanters, Roijers, Oliehoek and Beau, "Quality assessment of MORL algorithms: a
/// utility-based approach", Benelearn 2015 (the "expected utility metric").
/// </summary>
public static class ExpectedUtility
{
    /// <summary>
    /// Mean over <paramref name="preferences"/> of max over <paramref name="points"/> of w · p.
    /// Preferences are normally on the simplex (see <see cref="SimplexGrid"/>); they must be
    /// non-negative, since a negative weight on a maximised objective is meaningless.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// Either set empty, ragged or non-finite, dimensions differ, or a negative weight.
    /// </exception>
    public static double Compute(IReadOnlyList<double[]> points, IReadOnlyList<double[]> preferences)
    {
        int dims = PointArguments.RequireRectangular(points, requireFinite: true, nameof(points));
        int preferenceDims = PointArguments.RequireRectangular(preferences, requireFinite: true, nameof(preferences));
        if (dims == 0)
        {
            throw new ArgumentException("no points to evaluate", nameof(points));
        }

        if (preferenceDims == 0)
        {
            throw new ArgumentException("no preference vectors", nameof(preferences));
        }

        if (preferenceDims != dims)
        {
            throw new ArgumentException(
                $"preferences have {preferenceDims} objectives but points have {dims}", nameof(preferences));
        }

        for (int w = 0; w < preferences.Count; w++)
        {
            for (int i = 0; i < dims; i++)
            {
                if (preferences[w][i] < 0)
                {
                    throw new ArgumentException(
                        $"preferences[{w}][{i}] is {preferences[w][i]}; weights must be non-negative", nameof(preferences));
                }
            }
        }

        double total = 0;
        for (int w = 0; w < preferences.Count; w++)
        {
            ReadOnlySpan<double> weights = preferences[w];
            double best = double.NegativeInfinity;
            for (int p = 0; p < points.Count; p++)
            {
                best = Math.Max(best, Utility(weights, points[p]));
            }

            total += best;
        }

        return total / preferences.Count;
    }

    /// <summary>
    /// Expected utility over the regular simplex grid with <paramref name="divisions"/> divisions
    /// (<see cref="SimplexGrid.Points"/>), the usual uniform prior over preferences.
    /// </summary>
    public static double Compute(IReadOnlyList<double[]> points, int divisions)
    {
        int dims = PointArguments.RequireRectangular(points, requireFinite: true, nameof(points));
        if (dims == 0)
        {
            throw new ArgumentException("no points to evaluate", nameof(points));
        }

        return Compute(points, SimplexGrid.Points(dims, divisions));
    }

    /// <summary>
    /// w · p added one element after another: the same bits on every CPU. (<c>TensorPrimitives.Dot</c>, used until
    /// 2026-12-04, sums in as many lanes as the CPU's vectors hold, so with four objectives or more the last bits of
    /// the expected utility in results.json depended on the machine that wrote them.)
    /// </summary>
    private static double Utility(ReadOnlySpan<double> w, ReadOnlySpan<double> p)
    {
        double sum = 0;
        for (int i = 0; i < w.Length; i++)
        {
            sum += w[i] * p[i];
        }

        return sum;
    }
}
