using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>Parameters of <c>slerp</c>.</summary>
public sealed record SlerpParameters : ISettingsSection
{
    /// <summary>The interpolation factor: 0 gives the first model, 1 the second; none: the second model's weight λ₂.</summary>
    [System.ComponentModel.DataAnnotations.Range(0.0, 1.0)]
    [Description("interpolation factor: 0 the first model, 1 the second (default: the second model's weight)")]
    public double? T { get; init; }
}

/// <summary>
/// <c>slerp</c>: spherical interpolation of two models, tensor by tensor, as mergekit computes it: each
/// tensor is one vector; with Ω the angle between the two (their normalised dot product), the result is
/// sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, and plain (1 − t)·a + t·b where the two are nearly colinear
/// (|cos Ω| &gt; 0.9995), as fine-tuned copies of one init often are.
/// </summary>
public sealed class SlerpMethod : IMergeMethod
{
    /// <summary>Above this |cos Ω| the tensors count as colinear and are interpolated linearly (mergekit's DOT_THRESHOLD).</summary>
    public const double ColinearCosine = 0.9995;

    /// <summary>Norms at or below this are not normalised (mergekit's eps).</summary>
    public const double NormEpsilon = 1e-8;

    public string Name => "slerp";

    public string Summary => "Spherical interpolation of two models per tensor (linear where the two are nearly colinear).";

    public string Reference => "Shoemake, Animating rotation with quaternion curves, SIGGRAPH 1985; as in mergekit";

    public bool NeedsBase => false;

    public int? Inputs => 2;

    public ISettingsSection DefaultParameters { get; } = new SlerpParameters();

    public MergeKernel CreateKernel(SoupWeights weights, ISettingsSection parameters)
    {
        double t = ((SlerpParameters)parameters).T ?? weights[1];
        if (!double.IsFinite(t)) throw new SoupInputException($"slerp: t is {t}; it must be finite");
        return new Kernel(t);
    }

    private sealed class Kernel(double t) : MergeKernel
    {
        public override TensorMerge ForTensor(string name, DType dtype, long elements) => new SlerpTensor(t);
    }

    private sealed class SlerpTensor : TensorMerge
    {
        private readonly double _t;
        private double _aa, _bb, _ab;    // Σa², Σb², Σab over the tensor, in float64
        private double _s0, _s1;         // the coefficients: (1 − t, t) until the pass has measured the angle

        public SlerpTensor(double t)
        {
            _t = t;
            (_s0, _s1) = (1 - t, t);
        }

        public override int StatisticsPasses => _t is 0 or 1 ? 0 : 1;

        public override int CopiesInput => _t switch
        {
            0 => 0,
            1 => 1,
            _ => -1,
        };

        public override void Observe<T>(int pass, SliceSet<T> slices)
        {
            // Sums of a slice's 32 Ki products in the tensor's own precision (float32 as mergekit's numpy), in eight
            // lanes (four for float64) reduced in a fixed order, accumulated over slices in float64, in order: the same
            // on every x64 machine, with or without AVX2 or AVX-512, and for any thread count. (TensorPrimitives.Dot
            // sums in as many lanes as the CPU's widest vector: its angle, and so slerp's bytes, varied by CPU.)
            if (typeof(T) == typeof(float))
            {
                StoredFloats a = slices.StoredInput(0), b = slices.StoredInput(1);
                (float aa, float bb, float ab) = a.IsBFloat16 ? Dots<BFloat16Lanes>(ref a.Data, ref b.Data, a.Count) : Dots<SingleLanes>(ref a.Data, ref b.Data, a.Count);
                (_aa, _bb, _ab) = (_aa + aa, _bb + bb, _ab + ab);
                return;
            }
            (double daa, double dbb, double dab) = Dots(MemoryMarshal.Cast<T, double>(slices.Input(0)), MemoryMarshal.Cast<T, double>(slices.Input(1)));
            (_aa, _bb, _ab) = (_aa + daa, _bb + dbb, _ab + dab);
        }

        /// <summary>Σa², Σb², Σab of <paramref name="n"/> stored values, in one pass (bfloat16 widened in registers).</summary>
        /// <remarks>Element i goes to lane i mod 8 (the tail's too); the lanes are summed as ((0+1)+(2+3))+((4+5)+(6+7)).
        /// Without 256-bit vectors, scalar lanes do the same additions in the same order: the same sums.</remarks>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static (float AA, float BB, float AB) Dots<TLanes>(ref byte a, ref byte b, int n) where TLanes : struct, IFloatLanes
        {
            Span<float> aa = stackalloc float[8], bb = stackalloc float[8], ab = stackalloc float[8];
            aa.Clear();
            bb.Clear();
            ab.Clear();
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> vaa = Vector256<float>.Zero, vbb = vaa, vab = vaa;
                for (; i <= n - 8; i += 8)
                {
                    Vector256<float> x = TLanes.Load(ref a, (nuint)i), y = TLanes.Load(ref b, (nuint)i);
                    vaa += x * x;
                    vbb += y * y;
                    vab += x * y;
                }
                vaa.CopyTo(aa);
                vbb.CopyTo(bb);
                vab.CopyTo(ab);
            }
            for (; i < n; i++)
            {
                float x = TLanes.Get(ref a, (nuint)i), y = TLanes.Get(ref b, (nuint)i);
                aa[i & 7] += x * x;
                bb[i & 7] += y * y;
                ab[i & 7] += x * y;
            }
            return (Reduce(aa), Reduce(bb), Reduce(ab));
        }

        private static float Reduce(ReadOnlySpan<float> l) => ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));

        /// <summary>Σa², Σb², Σab of float64 values: four lanes, element i in lane i mod 4, summed as (0+1)+(2+3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static (double AA, double BB, double AB) Dots(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
        {
            Span<double> aa = stackalloc double[4], bb = stackalloc double[4], ab = stackalloc double[4];
            aa.Clear();
            bb.Clear();
            ab.Clear();
            int i = 0, n = a.Length;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> vaa = Vector256<double>.Zero, vbb = vaa, vab = vaa;
                for (; i <= n - 4; i += 4)
                {
                    Vector256<double> x = Vector256.Create(a.Slice(i, 4)), y = Vector256.Create(b.Slice(i, 4));
                    vaa += x * x;
                    vbb += y * y;
                    vab += x * y;
                }
                vaa.CopyTo(aa);
                vbb.CopyTo(bb);
                vab.CopyTo(ab);
            }
            for (; i < n; i++)
            {
                double x = a[i], y = b[i];
                aa[i & 3] += x * x;
                bb[i & 3] += y * y;
                ab[i & 3] += x * y;
            }
            return ((aa[0] + aa[1]) + (aa[2] + aa[3]), (bb[0] + bb[1]) + (bb[2] + bb[3]), (ab[0] + ab[1]) + (ab[2] + ab[3]));
        }

        public override void EndPass(int pass)
        {
            double na = Math.Sqrt(_aa), nb = Math.Sqrt(_bb);
            double cos = _ab / (na > NormEpsilon ? na : 1) / (nb > NormEpsilon ? nb : 1);
            if (Math.Abs(cos) > ColinearCosine) return; // nearly colinear: linear
            double omega = Math.Acos(cos), sin = Math.Sin(omega);
            _s0 = Math.Sin(omega - omega * _t) / sin;
            _s1 = Math.Sin(omega * _t) / sin;
        }

        public override void Merge<T>(SliceSet<T> slices, Span<T> output)
        {
            if (typeof(T) == typeof(float))
            {
                StoredFloats a = slices.StoredInput(0), b = slices.StoredInput(1);
                Span<float> into = MemoryMarshal.Cast<T, float>(output);
                if (a.IsBFloat16) Mix<BFloat16Lanes>(ref a.Data, ref b.Data, (float)_s0, (float)_s1, into);
                else Mix<SingleLanes>(ref a.Data, ref b.Data, (float)_s0, (float)_s1, into);
                return;
            }
            TensorPrimitives.Multiply(slices.Input(0), T.CreateTruncating(_s0), output);
            TensorPrimitives.MultiplyAdd(slices.Input(1), T.CreateTruncating(_s1), output, output);
        }

        /// <summary>s₀·a + s₁·b of stored values (bfloat16 widened in registers), not fused: each product rounded, then the sum.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static void Mix<TLanes>(ref byte a, ref byte b, float s0, float s1, Span<float> output) where TLanes : struct, IFloatLanes
        {
            int i = 0, n = output.Length;
            ref float o = ref MemoryMarshal.GetReference(output);
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> s0V = Vector256.Create(s0), s1V = Vector256.Create(s1);
                for (; i <= n - 8; i += 8) (TLanes.Load(ref a, (nuint)i) * s0V + TLanes.Load(ref b, (nuint)i) * s1V).StoreUnsafe(ref o, (nuint)i);
            }
            for (; i < n; i++) output[i] = TLanes.Get(ref a, (nuint)i) * s0 + TLanes.Get(ref b, (nuint)i) * s1;
        }
    }
}
