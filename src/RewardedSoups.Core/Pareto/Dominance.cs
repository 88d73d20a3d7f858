namespace RewardedSoups.Pareto;

/// <summary>
/// Pareto dominance with every objective maximised: a dominates b when a is at least as good as b
/// in every objective and strictly better in at least one.
/// </summary>
public static class Dominance
{
    /// <summary>True when <paramref name="a"/> ≥ <paramref name="b"/> everywhere and &gt; somewhere.</summary>
    /// <exception cref="ArgumentException">The lengths differ or a value is NaN.</exception>
    public static bool Dominates(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"points have {a.Length} and {b.Length} objectives", nameof(b));
        }

        // Check the whole of both spans: the early exit below would otherwise let a NaN through
        // unnoticed whenever an earlier objective already decides the answer.
        PointArguments.RequireValues(a, requireFinite: false, nameof(a), nameof(a));
        PointArguments.RequireValues(b, requireFinite: false, nameof(b), nameof(b));
        return DominatesUnchecked(a, b);
    }

    /// <summary>
    /// Indices (ascending, i.e. in input order) of the points that no other point dominates.
    /// Exact duplicates of a non-dominated point are all kept, since neither dominates the other;
    /// so the front as a set of values does not depend on duplicates or on input order.
    /// Two objectives: O(n log n) sort and sweep. Otherwise: sort by objective sum, then compare
    /// each point with the front found so far, O(n · |front| · d) in the worst case.
    /// </summary>
    /// <exception cref="ArgumentException">Points are null, ragged, empty vectors, or contain NaN.</exception>
    public static int[] NonDominatedIndices(IReadOnlyList<double[]> points)
    {
        int dims = PointArguments.RequireRectangular(points, requireFinite: false, nameof(points));
        if (dims == 0)
        {
            return [];
        }

        bool[] kept = dims == 2 ? SweepTwoObjectives(points) : FilterBySumOrder(points);
        int count = 0;
        for (int k = 0; k < kept.Length; k++)
        {
            count += kept[k] ? 1 : 0;
        }

        var indices = new int[count];
        int next = 0;
        for (int k = 0; k < kept.Length; k++)
        {
            if (kept[k])
            {
                indices[next++] = k;
            }
        }

        return indices;
    }

    /// <summary>Dominance without argument checks, for inner loops over validated points.</summary>
    internal static bool DominatesUnchecked(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        bool strictlyBetter = false;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] < b[i])
            {
                return false;
            }

            strictlyBetter |= a[i] > b[i];
        }

        return strictlyBetter;
    }

    /// <summary>a ≥ b in every objective (dominates or equals), without argument checks.</summary>
    internal static bool WeaklyDominatesUnchecked(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] < b[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Two objectives: visit points by x descending (ties: y descending). A group of equal x is
    /// led by its highest y; the points equal to that leader survive exactly when the leader's y
    /// beats every y seen at a strictly greater x. Everything else in the group is dominated by
    /// the leader (same x, lower y).
    /// </summary>
    private static bool[] SweepTwoObjectives(IReadOnlyList<double[]> points)
    {
        int n = points.Count;
        var order = new int[n];
        for (int k = 0; k < n; k++)
        {
            order[k] = k;
        }

        Array.Sort(order, (i, j) =>
        {
            int byX = points[j][0].CompareTo(points[i][0]);
            return byX != 0 ? byX : points[j][1].CompareTo(points[i][1]);
        });

        var kept = new bool[n];
        // A flag rather than a −∞ sentinel: a y of −∞ is legal and must still lose to an equal y
        // at a greater x.
        bool seenGreaterX = false;
        double bestYAtGreaterX = 0;
        int s = 0;
        while (s < n)
        {
            double x = points[order[s]][0];
            double leaderY = points[order[s]][1];
            bool leaderSurvives = !seenGreaterX || leaderY > bestYAtGreaterX;
            for (; s < n && points[order[s]][0] == x; s++)
            {
                kept[order[s]] = leaderSurvives && points[order[s]][1] == leaderY;
            }

            bestYAtGreaterX = seenGreaterX ? Math.Max(bestYAtGreaterX, leaderY) : leaderY;
            seenGreaterX = true;
        }

        return kept;
    }

    /// <summary>
    /// Any number of objectives: visit points so that every dominator comes before the points it
    /// dominates, then keep a point when nothing already kept dominates it. Sorting by sum
    /// descending puts strong points first, which keeps the front checks short; the lexicographic
    /// tie-break makes the order dominator-first even when rounding makes two sums equal.
    /// </summary>
    private static bool[] FilterBySumOrder(IReadOnlyList<double[]> points)
    {
        int n = points.Count;
        var sums = new double[n];
        var order = new int[n];
        for (int k = 0; k < n; k++)
        {
            order[k] = k;
            // Clamp infinities to ±MaxValue: the sum must never be NaN (+∞ + −∞) and must stay
            // monotone (a dominator's sum ≥ the dominated one's), and a sequential sum of finite
            // values has both properties even when it overflows to ±∞.
            double sum = 0;
            foreach (double v in points[k])
            {
                sum += Math.Clamp(v, -double.MaxValue, double.MaxValue);
            }

            sums[k] = sum;
        }

        Array.Sort(order, (i, j) =>
        {
            int bySum = sums[j].CompareTo(sums[i]);
            if (bySum != 0)
            {
                return bySum;
            }

            double[] a = points[i];
            double[] b = points[j];
            for (int m = 0; m < a.Length; m++)
            {
                int byObjective = b[m].CompareTo(a[m]);
                if (byObjective != 0)
                {
                    return byObjective;
                }
            }

            return 0;
        });

        var kept = new bool[n];
        var front = new List<int>();
        foreach (int k in order)
        {
            bool dominated = false;
            foreach (int f in front)
            {
                if (DominatesUnchecked(points[f], points[k]))
                {
                    dominated = true;
                    break;
                }
            }

            if (!dominated)
            {
                front.Add(k);
                kept[k] = true;
            }
        }

        return kept;
    }
}
