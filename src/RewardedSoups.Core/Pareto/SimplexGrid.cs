namespace RewardedSoups.Pareto;

/// <summary>
/// Regular grids on the probability simplex: every vector of non-negative entries k_i / divisions
/// (k_i integers) summing to 1. Used for the interpolation weights λ of a soup and for the
/// preference vectors of the expected-utility metric.
/// </summary>
public static class SimplexGrid
{
    /// <summary>
    /// The most points <see cref="Points"/> will produce; a grid larger than this is almost
    /// certainly a mistyped argument, and would exhaust memory before being useful.
    /// </summary>
    public const long MaxPoints = 10_000_000;

    /// <summary>
    /// Number of grid points, C(divisions + dimensions − 1, dimensions − 1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">dimensions or divisions &lt; 1.</exception>
    public static long Count(int dimensions, int divisions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(divisions, 1);
        // C(divisions + m, m) with m = dimensions − 1, built as a running product of exact
        // binomials C(divisions + j, j); saturate instead of overflowing.
        long count = 1;
        for (int j = 1; j < dimensions; j++)
        {
            Int128 next = (Int128)count * (divisions + j) / j;
            if (next > long.MaxValue)
            {
                return long.MaxValue;
            }

            count = (long)next;
        }

        return count;
    }

    /// <summary>
    /// All grid points, in a fixed order: lexicographically descending in the integer weights
    /// (k_1, …, k_d). The first point is the first vertex (1, 0, …, 0), the last is the last
    /// vertex (0, …, 0, 1), and weight moves towards later coordinates as the list goes on.
    /// For d = 2 and 10 divisions: (1, 0), (0.9, 0.1), …, (0, 1); for d = 3 and 2 divisions:
    /// (1, 0, 0), (½, ½, 0), (½, 0, ½), (0, 1, 0), (0, ½, ½), (0, 0, 1).
    /// Every entry is the double nearest k_i / divisions, so a given fraction is the same double
    /// in every point and in every grid with the same divisions; the sum of a point is 1 up to
    /// rounding (a few ulps).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// dimensions or divisions &lt; 1, or more than <see cref="MaxPoints"/> points.
    /// </exception>
    public static double[][] Points(int dimensions, int divisions)
    {
        long count = Count(dimensions, divisions);
        if (count > MaxPoints)
        {
            throw new ArgumentOutOfRangeException(
                nameof(divisions),
                $"a simplex grid of {dimensions} dimensions and {divisions} divisions has {count} points; the limit is {MaxPoints}");
        }

        var points = new double[count][];
        var k = new int[dimensions];
        k[0] = divisions;
        for (long p = 0; p < count; p++)
        {
            var point = new double[dimensions];
            for (int i = 0; i < dimensions; i++)
            {
                point[i] = (double)k[i] / divisions;
            }

            points[p] = point;

            // Next composition in descending lexicographic order: take one unit from the last
            // non-zero weight before the final coordinate, and put it, together with everything
            // to that weight's right, into the coordinate just after it.
            int last = dimensions - 2;
            while (last >= 0 && k[last] == 0)
            {
                last--;
            }

            if (last < 0)
            {
                break; // (0, …, 0, divisions): the final point
            }

            int moved = 1;
            for (int i = last + 1; i < dimensions; i++)
            {
                moved += k[i];
                k[i] = 0;
            }

            k[last]--;
            k[last + 1] = moved;
        }

        return points;
    }
}
