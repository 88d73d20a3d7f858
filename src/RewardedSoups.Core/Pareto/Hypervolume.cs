namespace RewardedSoups.Pareto;

/// <summary>
/// Exact hypervolume (Lebesgue measure of the region dominated by a point set and bounded by a
/// reference point), every objective maximised.
/// <list type="bullet">
/// <item>1 objective: max − reference.</item>
/// <item>2 objectives: sort-and-sweep, O(n log n).</item>
/// <item>3 objectives: dimension sweep over the third objective that keeps the 2-D staircase of
/// the points seen so far and updates its area incrementally, O(n log n): HV3D of Beume,
/// Fonseca, López-Ibáñez, Paquete and Vahrenhold, "On the complexity of computing the
/// hypervolume indicator", IEEE TEC 13(5), 2009, and Fonseca, Paquete and López-Ibáñez, "An
/// improved dimension-sweep algorithm for the hypervolume indicator", CEC 2006.</item>
/// <item>4 to 6 objectives: WFG of While, Bradstreet and Barone, "A fast way of calculating exact
/// hypervolumes", IEEE TEC 16(1), 2012, with the 3-objective sweep as its base case.</item>
/// </list>
/// </summary>
public static class Hypervolume
{
    /// <summary>
    /// The most objectives supported. WFG is exponential in the objective count in the worst
    /// case; beyond six the fronts we meet make it impractically slow, so we refuse instead.
    /// </summary>
    public const int MaxObjectives = 6;

    /// <summary>
    /// Volume dominated by <paramref name="points"/> and bounded below by
    /// <paramref name="reference"/>. Points that do not strictly exceed the reference in every
    /// objective bound no volume and are ignored; an empty set has volume 0. Dominated points and
    /// duplicates are allowed and change nothing.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// No objectives, more than <see cref="MaxObjectives"/>, a point whose length differs from the
    /// reference, or a value that is not finite.
    /// </exception>
    public static double Compute(IReadOnlyList<double[]> points, ReadOnlySpan<double> reference)
    {
        int d = reference.Length;
        if (d == 0)
        {
            throw new ArgumentException("the reference point has no objectives", nameof(reference));
        }

        if (d > MaxObjectives)
        {
            throw new ArgumentException(
                $"hypervolume supports at most {MaxObjectives} objectives; the reference point has {d}",
                nameof(reference));
        }

        PointArguments.RequireValues(reference, requireFinite: true, nameof(reference), nameof(reference));
        int pointDims = PointArguments.RequireRectangular(points, requireFinite: true, nameof(points));
        if (pointDims != 0 && pointDims != d)
        {
            throw new ArgumentException(
                $"points have {pointDims} objectives but the reference point has {d}", nameof(points));
        }

        // Translate so the reference becomes the origin; from here on every coordinate is > 0
        // and a point's box is [0, p]. Points on or below the reference are dropped once, here.
        var flat = new double[points.Count * d]; // [n, d]
        int n = 0;
        for (int k = 0; k < points.Count; k++)
        {
            double[] point = points[k];
            bool exceeds = true;
            for (int i = 0; i < d; i++)
            {
                exceeds &= point[i] > reference[i];
            }

            if (!exceeds)
            {
                continue;
            }

            for (int i = 0; i < d; i++)
            {
                double relative = point[i] - reference[i];
                if (double.IsInfinity(relative))
                {
                    throw new ArgumentException(
                        $"points[{k}][{i}] − reference[{i}] overflows a double", nameof(points));
                }

                flat[n * d + i] = relative;
            }

            n++;
        }

        if (n == 0)
        {
            return 0;
        }

        Span<double> relativePoints = flat.AsSpan(0, n * d);
        return d switch
        {
            1 => MaxOf(relativePoints),
            2 => Sweep2D(relativePoints),
            3 => Sweep3D(relativePoints),
            _ => Wfg(relativePoints, n, d),
        };
    }

    private static double MaxOf(ReadOnlySpan<double> values)
    {
        double max = values[0];
        foreach (double v in values)
        {
            max = Math.Max(max, v);
        }

        return max;
    }

    /// <summary>
    /// Two objectives, points relative to the origin ([n, 2], all &gt; 0). Visiting by x
    /// descending, a point adds the strip between the highest y seen so far and its own y, as
    /// wide as its x.
    /// </summary>
    private static double Sweep2D(ReadOnlySpan<double> flat)
    {
        int n = flat.Length / 2;
        var negX = new double[n];
        var order = new int[n];
        for (int k = 0; k < n; k++)
        {
            negX[k] = -flat[2 * k];
            order[k] = k;
        }

        Array.Sort(negX, order);
        double area = 0;
        double coveredY = 0;
        foreach (int k in order)
        {
            double y = flat[2 * k + 1];
            if (y > coveredY)
            {
                area += flat[2 * k] * (y - coveredY);
                coveredY = y;
            }
        }

        return area;
    }

    /// <summary>
    /// Three objectives, points relative to the origin ([n, 3], all &gt; 0). Visit by z
    /// descending; after inserting a point, the (x, y) staircase of everything visited has area A
    /// and covers the slab between this z and the next one down, adding A × (z − z_next).
    /// </summary>
    private static double Sweep3D(ReadOnlySpan<double> flat)
    {
        int n = flat.Length / 3;
        var negZ = new double[n];
        var order = new int[n];
        var xs = new double[n];
        for (int k = 0; k < n; k++)
        {
            negZ[k] = -flat[3 * k + 2];
            order[k] = k;
            xs[k] = flat[3 * k];
        }

        Array.Sort(negZ, order);
        var staircase = new Staircase(xs);
        double area = 0;
        double volume = 0;
        for (int s = 0; s < n; s++)
        {
            int k = order[s];
            area += staircase.Insert(flat[3 * k], flat[3 * k + 1]);
            double z = flat[3 * k + 2];
            double nextZ = s + 1 < n ? flat[3 * order[s + 1] + 2] : 0;
            volume += area * (z - nextZ);
        }

        return volume;
    }

    /// <summary>
    /// WFG for d ≥ 4 on points relative to the origin ([n, d], all &gt; 0; reordered in place).
    /// With the points sorted by the last objective descending, every earlier point reaches at
    /// least as high in it, so the part of p_k's box not already covered is a prism: its height
    /// is p_k's last objective and its base is the (d−1)-dimensional box of p_k minus the
    /// hypervolume of the "limit set" {min(p_j, p_k) : j &lt; k} (WFG's exclhv with slicing on
    /// the last objective). Removing dominated points before each recursion is what keeps WFG
    /// fast: limit sets shrink sharply.
    /// </summary>
    private static double Wfg(Span<double> flat, int n, int d)
    {
        n = CompactNonDominated(flat, n, d);
        if (n == 1)
        {
            return Product(flat[..d]);
        }

        if (d == 3)
        {
            return Sweep3D(flat[..(n * 3)]);
        }

        SortRowsByLastDescending(flat[..(n * d)], n, d);
        int baseDims = d - 1;
        var limit = new double[(n - 1) * baseDims]; // [k, d − 1], refilled for every k
        double volume = 0;
        for (int k = 0; k < n; k++)
        {
            ReadOnlySpan<double> pk = flat.Slice(k * d, d);
            double baseArea = Product(pk[..baseDims]);
            if (k > 0)
            {
                for (int j = 0; j < k; j++)
                {
                    for (int i = 0; i < baseDims; i++)
                    {
                        limit[j * baseDims + i] = Math.Min(flat[j * d + i], pk[i]);
                    }
                }

                baseArea -= Wfg(limit.AsSpan(0, k * baseDims), k, baseDims);
            }

            volume += pk[baseDims] * baseArea;
        }

        return volume;
    }

    private static double Product(ReadOnlySpan<double> values)
    {
        double product = 1;
        foreach (double v in values)
        {
            product *= v;
        }

        return product;
    }

    /// <summary>
    /// Moves the rows of [n, d] that no other row weakly dominates to the front, one copy of each
    /// (for hypervolume a duplicate adds nothing), and returns how many there are.
    /// </summary>
    private static int CompactNonDominated(Span<double> flat, int n, int d)
    {
        int kept = 0;
        for (int k = 0; k < n; k++)
        {
            // kept ≤ k throughout, so rows not yet visited (> k) are never overwritten.
            ReadOnlySpan<double> candidate = flat.Slice(k * d, d);
            bool covered = false;
            for (int j = 0; j < kept && !covered; j++)
            {
                covered = Dominance.WeaklyDominatesUnchecked(flat.Slice(j * d, d), candidate);
            }

            if (covered)
            {
                continue;
            }

            int m = 0;
            while (m < kept)
            {
                if (Dominance.WeaklyDominatesUnchecked(candidate, flat.Slice(m * d, d)))
                {
                    // Order does not matter here, so fill the hole with the last kept row.
                    kept--;
                    flat.Slice(kept * d, d).CopyTo(flat.Slice(m * d, d));
                }
                else
                {
                    m++;
                }
            }

            candidate.CopyTo(flat.Slice(kept * d, d));
            kept++;
        }

        return kept;
    }

    private static void SortRowsByLastDescending(Span<double> flat, int n, int d)
    {
        var negLast = new double[n];
        var order = new int[n];
        for (int k = 0; k < n; k++)
        {
            negLast[k] = -flat[k * d + d - 1];
            order[k] = k;
        }

        Array.Sort(negLast, order);
        double[] copy = flat.ToArray();
        for (int s = 0; s < n; s++)
        {
            copy.AsSpan(order[s] * d, d).CopyTo(flat.Slice(s * d, d));
        }
    }

    /// <summary>
    /// The 2-D front (x ascending, y strictly descending) of the points inserted so far, over x
    /// values known in advance. HV3D keeps it in a balanced search tree; knowing every x up front
    /// lets a Fenwick tree over x ranks give the same O(log n) neighbour queries with far less
    /// code.
    /// </summary>
    private sealed class Staircase
    {
        private readonly double[] _xs;       // distinct x values, ascending; a step's rank indexes it
        private readonly double[] _yAtRank;  // y of the step at each rank, valid while present
        private readonly int[] _fenwick;     // 1-based counts of present ranks
        private readonly int _highestStep;   // largest power of two ≤ rank count, for FindKth
        private int _count;

        public Staircase(double[] xValues)
        {
            Array.Sort(xValues);
            int distinct = 0;
            for (int k = 0; k < xValues.Length; k++)
            {
                if (k == 0 || xValues[k] != xValues[distinct - 1])
                {
                    xValues[distinct++] = xValues[k];
                }
            }

            _xs = xValues.AsSpan(0, distinct).ToArray();
            _yAtRank = new double[distinct];
            _fenwick = new int[distinct + 1];
            _highestStep = 1;
            while (_highestStep * 2 <= distinct)
            {
                _highestStep *= 2;
            }
        }

        /// <summary>Inserts (x, y) and returns the area it adds to the staircase.</summary>
        public double Insert(double x, double y)
        {
            int rank = Array.BinarySearch(_xs, x);
            int atOrRight = Successor(rank);
            if (atOrRight >= 0 && _yAtRank[atOrRight] >= y)
            {
                return 0; // a step at x or to its right is at least as high: (x, y) is covered
            }

            int right = atOrRight == rank ? Successor(rank + 1) : atOrRight;
            // New area appears only above the first step to the right. Walk left over the steps
            // the new point dominates, adding the uncovered band under each, then the band up to
            // y bounded by the first step that stays.
            double coveredY = right >= 0 ? _yAtRank[right] : 0;
            double added = 0;
            int left = Predecessor(right >= 0 ? right : _xs.Length);
            while (left >= 0 && _yAtRank[left] <= y)
            {
                added += (x - _xs[left]) * (_yAtRank[left] - coveredY);
                coveredY = _yAtRank[left];
                Update(left, -1);
                left = Predecessor(left);
            }

            double leftX = left >= 0 ? _xs[left] : 0;
            added += (x - leftX) * (y - coveredY);
            _yAtRank[rank] = y;
            Update(rank, +1);
            return added;
        }

        /// <summary>First present rank ≥ <paramref name="rank"/>, or −1.</summary>
        private int Successor(int rank)
        {
            int before = CountBelow(rank);
            return before == _count ? -1 : FindKth(before + 1);
        }

        /// <summary>Last present rank &lt; <paramref name="rank"/>, or −1.</summary>
        private int Predecessor(int rank)
        {
            int before = CountBelow(rank);
            return before == 0 ? -1 : FindKth(before);
        }

        private int CountBelow(int rank)
        {
            int sum = 0;
            for (int i = rank; i > 0; i -= i & -i)
            {
                sum += _fenwick[i];
            }

            return sum;
        }

        /// <summary>Rank of the k-th present step (k is 1-based), by binary lifting.</summary>
        private int FindKth(int k)
        {
            int position = 0;
            for (int step = _highestStep; step > 0; step >>= 1)
            {
                int next = position + step;
                if (next < _fenwick.Length && _fenwick[next] < k)
                {
                    position = next;
                    k -= _fenwick[next];
                }
            }

            return position; // the 1-based slot is position + 1, i.e. rank = position
        }

        private void Update(int rank, int delta)
        {
            for (int i = rank + 1; i < _fenwick.Length; i += i & -i)
            {
                _fenwick[i] += delta;
            }

            _count += delta;
        }
    }
}
