using System.Numerics;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>
/// Soups of tensors held in memory (the app's live λ, a showcase's policy, the image model), with the
/// kernels <see cref="StreamingMerge"/> runs on files, cut into the same slices: for float32 (or float64)
/// tensors a live soup holds exactly the values a <c>soup merge</c> of the same weights writes.
/// </summary>
public sealed class MemoryMerge
{
    private readonly MergeKernel _kernel;
    private readonly bool _hasBase;
    private readonly int _inputs;

    /// <summary>
    /// A merge of <paramref name="inputs"/> models with <paramref name="method"/> (null: linear), checked as a
    /// file merge is: one weight per input, parameters, input count, and a base exactly when the method needs one.
    /// </summary>
    public MemoryMerge(int inputs, SoupWeights? weights, IMergeMethod? method = null, ISettingsSection? parameters = null, bool hasBase = false)
    {
        method ??= MergeMethods.Linear;
        parameters ??= method.DefaultParameters;
        SoupWeights w = StreamingMerge.CheckRequest(method, parameters, inputs, weights, hasBase ? "(in memory)" : null);
        Weights = w;
        _kernel = method.CreateKernel(w, parameters);
        _hasBase = hasBase;
        _inputs = inputs;
    }

    /// <summary>The weights used (uniform when none were given).</summary>
    public SoupWeights Weights { get; }

    /// <summary>
    /// Merges one tensor: <paramref name="inputs"/> in input order, the base (or null), into
    /// <paramref name="output"/>; every array of one length. <paramref name="name"/> keys random methods' draws.
    /// </summary>
    public void Tensor<T>(string name, IReadOnlyList<T[]> inputs, T[]? baseTensor, Span<T> output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inputs.Count != _inputs) throw new ArgumentException($"{inputs.Count} inputs for a merge of {_inputs}", nameof(inputs));
        if (_hasBase != baseTensor is not null) throw new ArgumentException(_hasBase ? "this merge needs the base tensor" : "this merge takes no base", nameof(baseTensor));
        long elements = output.Length;
        foreach (T[] x in inputs.Append(baseTensor ?? inputs[0]))
            if (x.Length != elements) throw new SoupInputException($"tensor {Printable.Quote(name)}: {x.Length} elements in one model, {elements} in another");
        TensorMerge merge = _kernel.ForTensor(name, typeof(T) == typeof(double) ? DType.F64 : DType.F32, elements);
        var slices = new ArraySlices<T>(inputs, baseTensor);
        for (int pass = 0; pass < merge.StatisticsPasses; pass++)
        {
            long end = Math.Min(elements, merge.PassElements(pass, elements));
            for (long start = 0; start < end; start += StreamingMerge.SliceElements)
                merge.Observe(pass, slices.At(start, (int)Math.Min(StreamingMerge.SliceElements, elements - start)));
            merge.EndPass(pass);
        }
        if (merge.CopiesInput >= 0)
        {
            inputs[merge.CopiesInput].CopyTo(output);
            return;
        }
        for (long start = 0; start < elements; start += StreamingMerge.SliceElements)
        {
            int n = (int)Math.Min(StreamingMerge.SliceElements, elements - start);
            merge.Merge(slices.At(start, n), output.Slice((int)start, n));
        }
    }

    private sealed class ArraySlices<T>(IReadOnlyList<T[]> inputs, T[]? baseTensor) : SliceSet<T> where T : unmanaged
    {
        public override int InputCount => inputs.Count;

        public ArraySlices<T> At(long start, int count)
        {
            Start = start;
            Count = count;
            return this;
        }

        public override ReadOnlySpan<T> Input(int k) => inputs[k].AsSpan((int)Start, Count);

        public override ReadOnlySpan<T> Base() => (baseTensor ?? throw new InvalidOperationException("this merge has no base")).AsSpan((int)Start, Count);
    }
}
