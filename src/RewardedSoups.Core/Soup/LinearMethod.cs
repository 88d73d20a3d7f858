using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>
/// <c>linear</c>: the weighted average θ = Σ λᵢ θᵢ, tensor by tensor (Wortsman et al.'s model soups; the
/// rewarded soup itself). An input of weight 0 is not read (0·∞ would poison the soup); one-hot weights
/// copy the chosen input's bytes, so that the soup reproduces it bit for bit.
/// </summary>
public sealed class LinearMethod : IMergeMethod
{
    public string Name => "linear";

    public string Summary => "Weighted average of the inputs, θ = Σ λᵢ θᵢ, tensor by tensor.";

    public string Reference => "Wortsman et al., Model soups, ICML 2022; Ramé et al., Rewarded soups, NeurIPS 2023";

    public bool NeedsBase => false;

    public int? Inputs => null;

    public ISettingsSection DefaultParameters { get; } = new NoMergeParameters();

    public MergeKernel CreateKernel(SoupWeights weights, ISettingsSection parameters) =>
        new Kernel(new Linear(weights.ToArray()));

    private sealed class Kernel(Linear linear) : MergeKernel
    {
        public override TensorMerge ForTensor(string name, DType dtype, long elements) => linear;
    }

    private sealed class Linear : TensorMerge
    {
        private readonly double[] _weights;
        private readonly int _single;

        public Linear(double[] weights)
        {
            _weights = weights;
            int nonZero = weights.Count(w => w != 0);
            _single = nonZero == 1 && weights.Contains(1.0) ? Array.IndexOf(weights, 1.0) : -1;
        }

        public override int CopiesInput => _single;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        public override void Merge<T>(SliceSet<T> slices, Span<T> output)
        {
            bool any = false;
            for (int k = 0; k < _weights.Length; k++)
            {
                if (_weights[k] == 0) continue; // skipped, not multiplied: 0·inf would poison the soup
                ReadOnlySpan<T> x = slices.Input(k);
                T w = T.CreateTruncating(_weights[k]);
                if (!any) TensorPrimitives.Multiply(x, w, output);
                else TensorPrimitives.MultiplyAdd(x, w, output, output);
                any = true;
            }
            if (!any) output.Clear();
        }
    }
}
