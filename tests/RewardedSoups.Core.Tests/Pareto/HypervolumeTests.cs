using CsCheck;
using RewardedSoups.Pareto;

namespace RewardedSoups.Tests.Pareto;

public class HypervolumeTests
{
    // Quarter-integers in [0, 2]: many ties, points on the reference boundary, and every
    // intermediate value of every algorithm exactly representable, so results compare with ==.
    private static readonly Gen<double> Dyadic = Gen.Int[0, 8].Select(v => v / 4.0);

    [Fact]
    public void Hypervolume_Staircase2D_EqualsSix()
    {
        Assert.Equal(6.0, Hypervolume.Compute([[1, 3], [2, 2], [3, 1]], [0.0, 0.0]));
    }

    [Fact]
    public void Hypervolume_ThreeCorners3D_EqualsFour()
    {
        // Three 2×1×1 boxes: 3 × 2 − 3 pairwise unit overlaps + 1 common unit cube = 4.
        Assert.Equal(4.0, Hypervolume.Compute([[2, 1, 1], [1, 2, 1], [1, 1, 2]], [0.0, 0.0, 0.0]));
    }

    [Fact]
    public void Hypervolume_Offset3DWithDominatedPoint_EqualsHandValue()
    {
        // Relative to (1, 1, 0): boxes 2×1×2 = 4 and 1×2×1 = 2 overlap in 1×1×1 = 1, so 5;
        // (2, 2, 1) lies inside the first box and adds nothing.
        double[][] points = [[3, 2, 2], [2, 3, 1], [2, 2, 1]];
        Assert.Equal(5.0, Hypervolume.Compute(points, [1.0, 1.0, 0.0]));
    }

    [Fact]
    public void Hypervolume_FourObjectivesHandExample_EqualsInclusionExclusionByHand()
    {
        // 2×1×1×1 = 2 and 1×1×1×3 = 3 overlap in 1×1×1×1 = 1: 4.
        Assert.Equal(4.0, Hypervolume.Compute([[2, 1, 1, 1], [1, 1, 1, 3]], [0.0, 0.0, 0.0, 0.0]));
    }

    [Fact]
    public void Hypervolume_OneObjective_IsMaxMinusReference()
    {
        Assert.Equal(3.0, Hypervolume.Compute([[1.0], [5.0], [3.0]], [2.0]));
    }

    [Fact]
    public void Hypervolume_PointOnReferenceBoundary_ContributesNothing()
    {
        Assert.Equal(0.0, Hypervolume.Compute([[1, 3], [4, 0]], [1.0, 0.0]));
        Assert.Equal(2.0, Hypervolume.Compute([[1, 3], [2, 2]], [1.0, 0.0]));
    }

    [Fact]
    public void Hypervolume_NoPoints_IsZero()
    {
        Assert.Equal(0.0, Hypervolume.Compute([], [0.0, 0.0, 0.0]));
    }

    [Fact]
    public void Hypervolume_SevenObjectives_ThrowsNamingLimit()
    {
        var ex = Assert.Throws<ArgumentException>(() => Hypervolume.Compute([new double[7]], new double[7]));
        Assert.Contains("at most 6 objectives", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hypervolume_NonFiniteValue_Throws()
    {
        Assert.Throws<ArgumentException>(() => Hypervolume.Compute([[1.0, double.NaN]], [0.0, 0.0]));
        Assert.Throws<ArgumentException>(() => Hypervolume.Compute([[1.0, double.PositiveInfinity]], [0.0, 0.0]));
        Assert.Throws<ArgumentException>(() => Hypervolume.Compute([[1.0, 1.0]], [0.0, double.NegativeInfinity]));
    }

    [Fact]
    public void Hypervolume_PointLengthDiffersFromReference_Throws()
    {
        Assert.Throws<ArgumentException>(() => Hypervolume.Compute([[1.0, 1.0, 1.0]], [0.0, 0.0]));
        Assert.Throws<ArgumentException>(() => Hypervolume.Compute([[1.0]], ReadOnlySpan<double>.Empty));
    }

    [Fact]
    public void Hypervolume_SinglePoint_EqualsBoxVolume()
    {
        (from dims in Gen.Int[1, 6]
         from point in Gen.Double[0.5, 3].Array[dims]
         from reference in Gen.Double[-1, 0.5].Array[dims]
         select (point, reference))
        .Sample((point, reference) =>
        {
            double box = 1;
            for (int i = 0; i < point.Length; i++)
            {
                box *= point[i] - reference[i];
            }

            AssertClose(box, Hypervolume.Compute([point], reference));
        }, iter: 300);
    }

    [Fact]
    public void Hypervolume_TwoAndThreeObjectives_EqualInclusionExclusion()
    {
        (from dims in Gen.Int[2, 3]
         from points in Dyadic.Array[dims].Array[0, 10]
         from reference in Dyadic.Array[dims]
         select (points, reference))
        .Sample((points, reference) =>
            Assert.Equal(InclusionExclusion(points, reference), Hypervolume.Compute(points, reference)), iter: 500);
    }

    [Fact]
    public void Hypervolume_FourToSixObjectivesWfg_EqualsInclusionExclusion()
    {
        (from dims in Gen.Int[4, 6]
         from points in Dyadic.Array[dims].Array[0, 10]
         select points)
        .Sample(points =>
        {
            double[] reference = new double[points.Length == 0 ? 4 : points[0].Length];
            Assert.Equal(InclusionExclusion(points, reference), Hypervolume.Compute(points, reference));
        }, iter: 300);
    }

    [Fact]
    public void Hypervolume_ContinuousValues_EqualInclusionExclusion()
    {
        (from dims in Gen.Int[1, 6]
         from points in Gen.Double[0, 1].Array[dims].Array[1, 9]
         select points)
        .Sample(points =>
        {
            double[] reference = new double[points[0].Length];
            AssertClose(InclusionExclusion(points, reference), Hypervolume.Compute(points, reference));
        }, iter: 300);
    }

    [Fact]
    public void Hypervolume_ConstantObjectiveInserted_ScalesLowerDimensionalVolume()
    {
        // A set that is constant c in one objective has volume c × its volume without it. This
        // checks each algorithm against the one below it: 2-D sweep vs 3-D sweep, 3-D sweep vs
        // WFG (whose own base case is the 3-D sweep), and WFG against itself one level down.
        (from lowDims in Gen.Int[1, 5]
         from points in Dyadic.Array[lowDims].Array[0, 30]
         from position in Gen.Int[0, lowDims]
         from c in Gen.Int[1, 8].Select(v => v / 4.0)
         select (points, position, c))
        .Sample((points, position, c) =>
        {
            int lowDims = points.Length == 0 ? 1 : points[0].Length;
            double[][] lifted = new double[points.Length][];
            for (int k = 0; k < points.Length; k++)
            {
                lifted[k] = [.. points[k][..position], c, .. points[k][position..]];
            }

            double expected = c * Hypervolume.Compute(points, new double[lowDims]);
            Assert.Equal(expected, Hypervolume.Compute(lifted, new double[lowDims + 1]));
        }, iter: 300);
    }

    [Fact]
    public void Hypervolume_Large3DFront_EqualsWfgThroughConstantFourthObjective()
    {
        // 400 points near the positive octant of the unit sphere: nearly all non-dominated, so
        // the staircase sees long runs of insertions and removals.
        var random = new Random(20230612);
        double[][] points = new double[400][];
        double[][] lifted = new double[points.Length][];
        for (int k = 0; k < points.Length; k++)
        {
            double x = random.NextDouble() + 0.01, y = random.NextDouble() + 0.01, z = random.NextDouble() + 0.01;
            double norm = Math.Sqrt(x * x + y * y + z * z) * (1 + 0.05 * random.NextDouble());
            points[k] = [x / norm, y / norm, z / norm];
            lifted[k] = [.. points[k], 1.0];
        }

        double sweep = Hypervolume.Compute(points, [0.0, 0.0, 0.0]);
        double wfg = Hypervolume.Compute(lifted, [0.0, 0.0, 0.0, 0.0]);
        AssertClose(wfg, sweep);
        Assert.InRange(sweep, Math.PI / 6 * Math.Pow(1 / 1.05, 3) * 0.9, Math.PI / 6);
    }

    [Fact]
    public void Hypervolume_PointAdded_NeverDecreases()
    {
        (from dims in Gen.Int[1, 6]
         from points in Dyadic.Array[dims].Array[0, 25]
         from extra in Dyadic.Array[dims]
         select (points, extra))
        .Sample((points, extra) =>
        {
            double[] reference = new double[extra.Length];
            double before = Hypervolume.Compute(points, reference);
            double after = Hypervolume.Compute([.. points, extra], reference);
            Assert.True(after >= before, $"adding a point lowered the volume from {before} to {after}");
        }, iter: 300);
    }

    [Fact]
    public void Hypervolume_DominatedPointAdded_Unchanged()
    {
        (from dims in Gen.Int[1, 6]
         from points in Dyadic.Array[dims].Array[1, 20]
         from which in Gen.Int[0, 19]
         from drop in Dyadic.Array[dims]
         select (points, which, drop))
        .Sample((points, which, drop) =>
        {
            double[] anchor = points[which % points.Length];
            double[] dominated = new double[anchor.Length];
            for (int i = 0; i < anchor.Length; i++)
            {
                dominated[i] = anchor[i] - drop[i];
            }

            double[] reference = new double[anchor.Length];
            Assert.Equal(Hypervolume.Compute(points, reference), Hypervolume.Compute([.. points, dominated], reference));
        }, iter: 300);
    }

    [Fact]
    public void Hypervolume_ReorderedWithDuplicates_Unchanged()
    {
        (from dims in Gen.Int[1, 6]
         from points in Dyadic.Array[dims].Array[1, 20]
         from seed in Gen.Int
         select (points, seed))
        .Sample((points, seed) =>
        {
            var random = new Random(seed);
            double[][] reordered = [.. points, .. points[..(points.Length / 2)]];
            random.Shuffle(reordered);
            double[] reference = new double[points[0].Length];
            Assert.Equal(Hypervolume.Compute(points, reference), Hypervolume.Compute(reordered, reference));
        }, iter: 300);
    }

    /// <summary>
    /// Brute force: Σ over non-empty subsets S of (−1)^(|S|+1) × volume of the box up to the
    /// componentwise minimum of S. Exponential; for n ≤ 10.
    /// </summary>
    private static double InclusionExclusion(double[][] points, double[] reference)
    {
        var inside = new List<double[]>();
        foreach (double[] p in points)
        {
            bool exceeds = true;
            for (int i = 0; i < p.Length; i++)
            {
                exceeds &= p[i] > reference[i];
            }

            if (exceeds)
            {
                inside.Add(p);
            }
        }

        int d = reference.Length;
        double total = 0;
        var corner = new double[d];
        for (int mask = 1; mask < 1 << inside.Count; mask++)
        {
            Array.Fill(corner, double.PositiveInfinity);
            for (int k = 0; k < inside.Count; k++)
            {
                if ((mask & (1 << k)) != 0)
                {
                    for (int i = 0; i < d; i++)
                    {
                        corner[i] = Math.Min(corner[i], inside[k][i]);
                    }
                }
            }

            double box = 1;
            for (int i = 0; i < d; i++)
            {
                box *= corner[i] - reference[i];
            }

            total += int.PopCount(mask) % 2 == 1 ? box : -box;
        }

        return total;
    }

    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"expected {expected}, got {actual}");
}
