using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        public override void Observe<T>(int pass, SliceSet<T> slices)
        {
            // Vectorised within a slice (float32 sums of 32 Ki products for float32 tensors, as mergekit's numpy),
            // accumulated over slices in float64, in order: the same on every machine and thread count.
            ReadOnlySpan<T> a = slices.Input(0), b = slices.Input(1);
            _aa += double.CreateTruncating(TensorPrimitives.Dot(a, a));
            _bb += double.CreateTruncating(TensorPrimitives.Dot(b, b));
            _ab += double.CreateTruncating(TensorPrimitives.Dot(a, b));
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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        public override void Merge<T>(SliceSet<T> slices, Span<T> output)
        {
            TensorPrimitives.Multiply(slices.Input(0), T.CreateTruncating(_s0), output);
            TensorPrimitives.MultiplyAdd(slices.Input(1), T.CreateTruncating(_s1), output, output);
        }
    }
}
