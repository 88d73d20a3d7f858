using System.Buffers;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>Parameters of <c>task_arithmetic</c> (and the keys every task-vector method shares), as mergekit names them.</summary>
public record TaskArithmeticParameters : ISettingsSection
{
    /// <summary>λ_scale: the merged task vector is multiplied by it before it is added to the base.</summary>
    [Description("scale of the merged task vector added to the base")]
    public double Lambda { get; init; } = 1;

    /// <summary>Divide the merged task vector by the sum of the weights (TIES: of the weights whose sign agrees).</summary>
    [Description("divide the merged task vector by the sum of the weights (ties: of those agreeing in sign)")]
    public bool Normalize { get; init; }
}

/// <summary>Parameters of <c>ties</c>: task arithmetic with magnitude trimming and sign election; normalised by default.</summary>
public sealed record TiesParameters : TaskArithmeticParameters
{
    public TiesParameters() => Normalize = true;

    /// <summary>Share of each task vector's elements kept per tensor, the largest in magnitude.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    [Description("share of each task vector's elements kept per tensor, the largest in magnitude")]
    public double Density { get; init; } = 1;
}

/// <summary>Parameters of <c>dare_linear</c> and <c>dare_ties</c>: random drop of task-vector elements, rescaled.</summary>
public sealed record DareParameters : TaskArithmeticParameters
{
    /// <summary>Probability that an element of a task vector is kept.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    [Description("probability that an element of a task vector is kept")]
    public double Density { get; init; } = 1;

    /// <summary>Multiply the kept elements by 1/density (DARE's rescaling), so each task vector keeps its expected value.</summary>
    [Description("multiply kept elements by 1/density so each task vector keeps its expectation")]
    public bool Rescale { get; init; } = true;

    /// <summary>Seed of the drop masks; the same seed and inputs give the same bytes.</summary>
    [Range(0, int.MaxValue)]
    [Description("seed of the drop masks (same seed and inputs: same bytes)")]
    public long Seed { get; init; }
}

/// <summary>
/// The task-vector methods, mergekit's "generalized task arithmetic": each expert's task vector
/// τᵢ = θᵢ − θ₀ (θ₀ the base, the shared init), optionally sparsified per tensor (by magnitude: keep the
/// <c>density</c> share of largest |τᵢ|; or at random: keep each element with probability <c>density</c>,
/// times 1/density), weighted by λᵢ, optionally reduced by sign election (TIES: per element the sign of
/// Σ λᵢτᵢ, and only the λᵢτᵢ of that sign summed; <c>normalize</c> then divides by the sum of their
/// weights), scaled by <c>lambda</c> and added to θ₀.
/// </summary>
public sealed class TaskVectorMethod : IMergeMethod
{
    private enum Sparsification
    {
        None,
        Magnitude,
        Random,
    }

    private readonly Sparsification _sparsification;
    private readonly bool _consensus;

    private TaskVectorMethod(string name, string summary, string reference, Sparsification sparsification, bool consensus, ISettingsSection defaults)
    {
        Name = name;
        Summary = summary;
        Reference = reference;
        _sparsification = sparsification;
        _consensus = consensus;
        DefaultParameters = defaults;
    }

    /// <summary><c>task_arithmetic</c>: θ₀ + lambda · Σ λᵢ τᵢ.</summary>
    public static TaskVectorMethod TaskArithmetic { get; } = new("task_arithmetic",
        "θ₀ + lambda · Σ λᵢ (θᵢ − θ₀): task vectors added to the base.",
        "Ilharco et al., Editing models with task arithmetic, ICLR 2023", Sparsification.None, false, new TaskArithmeticParameters());

    /// <summary><c>ties</c>: magnitude trimming, sign election, disjoint mean.</summary>
    public static TaskVectorMethod Ties { get; } = new("ties",
        "Task vectors trimmed to their largest-magnitude share (density), signs elected per element, the agreeing ones averaged (disjoint mean) and added to θ₀.",
        "Yadav et al., TIES-Merging, NeurIPS 2023", Sparsification.Magnitude, true, new TiesParameters());

    /// <summary><c>dare_linear</c>: random drop and rescale, then task arithmetic.</summary>
    public static TaskVectorMethod DareLinear { get; } = new("dare_linear",
        "Task vectors with each element kept with probability density and rescaled by 1/density, then added as in task arithmetic.",
        "Yu et al., Language models are Super Mario (DARE), ICML 2024", Sparsification.Random, false, new DareParameters());

    /// <summary><c>dare_ties</c>: random drop and rescale, then TIES' sign election.</summary>
    public static TaskVectorMethod DareTies { get; } = new("dare_ties",
        "DARE's random drop and rescale, then TIES' sign election and sum of the agreeing task vectors.",
        "Yu et al., Language models are Super Mario (DARE), ICML 2024", Sparsification.Random, true, new DareParameters());

    public string Name { get; }

    public string Summary { get; }

    public string Reference { get; }

    public bool NeedsBase => true;

    public int? Inputs => null;

    public ISettingsSection DefaultParameters { get; }

    /// <summary>2 for DARE's methods since their draws come in pairs (2026-12-04); 1 for the others.</summary>
    public int Revision => _sparsification == Sparsification.Random ? 2 : 1;

    public MergeKernel CreateKernel(SoupWeights weights, ISettingsSection parameters)
    {
        var p = (TaskArithmeticParameters)parameters;
        double density = p switch
        {
            TiesParameters t => t.Density,
            DareParameters d => d.Density,
            _ => 1,
        };
        bool rescale = p is DareParameters { Rescale: true };
        ulong seed = p is DareParameters dare ? (ulong)dare.Seed : 0;
        var sparsification = density >= 1 ? Sparsification.None : _sparsification;
        var settings = new Settings(weights.ToArray(), p.Lambda, p.Normalize, density, sparsification, rescale && sparsification == Sparsification.Random, _consensus, seed);
        return new Kernel(settings);
    }

    /// <summary>
    /// Whether DARE keeps element <paramref name="index"/> of float32 tensor <paramref name="tensor"/> holding an input's
    /// <paramref name="values"/> (all of them: elements draw in pairs), by the scalar rule, for tests of the vector paths.
    /// </summary>
    internal static bool Keeps(long seed, string tensor, ReadOnlySpan<float> values, long index, double density)
    {
        long even = index & ~1L;
        uint low = BitConverter.SingleToUInt32Bits(values[(int)even]);
        uint high = even + 1 < values.Length ? BitConverter.SingleToUInt32Bits(values[(int)even + 1]) : 0;
        ulong draws = TaskVectorTensor.PairDraw(TaskVectorTensor.Stream((ulong)seed, NameKey(tensor)), index >> 1, low, high);
        return (uint)(index == even ? draws : draws >> 32) < TaskVectorTensor.Below(density);
    }

    /// <summary>FNV-1a of a tensor's name: what keys its random drop masks.</summary>
    private static ulong NameKey(string name)
    {
        ulong h = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * 1099511628211;
        return h;
    }

    private sealed record Settings(double[] Weights, double Lambda, bool Normalize, double Density, Sparsification Sparsification, bool Rescale, bool Consensus, ulong Seed);

    private sealed class Kernel(Settings settings) : MergeKernel
    {
        public override TensorMerge ForTensor(string name, DType dtype, long elements) => new TaskVectorTensor(settings, name, dtype, elements);
    }

    /// <summary>The merge of one tensor; with magnitude trimming it first finds each input's threshold by radix selection.</summary>
    private sealed class TaskVectorTensor : TensorMerge
    {
        private readonly Settings _s;
        private readonly ulong _tensorKey;
        private readonly long _elements;
        private readonly RadixSelect[]? _select;   // [input], during the statistics passes
        private readonly ulong[] _threshold;        // [input]: |τ| bits at or above which an element is kept

        public TaskVectorTensor(Settings s, string name, DType dtype, long elements)
        {
            _s = s;
            _tensorKey = NameKey(name);
            _elements = elements;
            _threshold = new ulong[s.Weights.Length];
            if (s.Sparsification == Sparsification.Magnitude && elements > 0)
            {
                bool wide = dtype == DType.F64;
                long keep = Math.Max(1, (long)Math.Floor(s.Density * elements)); // mergekit's int(density · n), at least one
                _select = s.Weights.Select(_ => new RadixSelect(keep, wide ? 64 : 32, elements)).ToArray();
            }
        }

        private int _ended;   // statistics passes ended
        private bool _oneRead;

        /// <summary>
        /// Two passes for float32 tensors (four for float64), one more where a window missed its estimate; in one read,
        /// one pass over the sample.
        /// </summary>
        public override int StatisticsPasses => _select is null ? 0 : _oneRead ? 1 : _ended + Selecting.Select(r => r.RemainingPasses).DefaultIfEmpty(0).Max();

        /// <summary>The inputs of nonzero weight.</summary>
        private int[] Live => _live ??= Enumerable.Range(0, _s.Weights.Length).Where(k => _s.Weights[k] != 0).ToArray();

        private int[]? _live;

        /// <summary>
        /// One read where every input's selection takes a window (float32 keys of a large tensor): a pass over the sample
        /// places the windows and a provisional threshold in each, then each slice is counted and merged with the
        /// provisional thresholds; the elements where some input's key was inside its window are gathered and, unless
        /// the exact thresholds decide every key as the provisional ones did, merged again with them. Bit for bit the
        /// two-pass merge.
        /// </summary>
        public override bool TryMergeInOneRead()
        {
            int[] live = Live;
            if (_select is null || _ended > 0 || _oneRead || live.Length == 0) return false;
            if (!_select[live[0]].TryOneRead()) return false; // a tensor too small for a window: every input's alike
            foreach (int k in live[1..])
                if (!_select[k].TryOneRead()) throw new InvalidOperationException("the inputs of one tensor select alike");
            _oneRead = true;
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        public override void MergeCounting(SliceSet<float> slices, Span<float> output, DeferredElements deferred)
        {
            if (!_oneRead || _ended == 0) throw new InvalidOperationException("MergeCounting follows the sample pass of a one-read merge");
            int n = slices.Count;
            Span<ulong> pending = PendingBits.ForThread(n);
            StoredFloats b = slices.StoredBase();
            foreach (int k in Live) _select![k].CountSlice(slices.StoredInput(k), b, pending);
            Merge(slices, output); // provisional where pending: keys inside a window decided by the provisional threshold
            int from = deferred.Add(pending, slices.Start);
            if (from < 0) return;
            int added = deferred.Count - from;
            ReadOnlySpan<long> at = deferred.Indices[from..];
            for (int k = 0; k <= _s.Weights.Length; k++)
            {
                Span<float> into = deferred.Values(k, from, added);
                if (k < _s.Weights.Length && _s.Weights[k] == 0) into.Clear(); // not read by the merge: not read here
                else
                {
                    StoredFloats values = k == _s.Weights.Length ? slices.StoredBase() : slices.StoredInput(k);
                    if (values.IsBFloat16) Gather<BFloat16Lanes>(ref values.Data, at, slices.Start, into);
                    else Gather<SingleLanes>(ref values.Data, at, slices.Start, into);
                }
            }
        }

        /// <summary>The values of a slice starting at element <paramref name="start"/> at the tensor's elements <paramref name="at"/>, as float32.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static void Gather<TLanes>(ref byte values, ReadOnlySpan<long> at, long start, Span<float> into) where TLanes : struct, IFloatLanes
        {
            for (int j = 0; j < into.Length; j++) into[j] = TLanes.Get(ref values, (nuint)(at[j] - start));
        }

        public override OneReadEnd EndOneRead(DeferredElements deferred)
        {
            if (!_oneRead || _ended == 0) throw new InvalidOperationException("EndOneRead follows the counting of a one-read merge");
            bool missed = false, agree = true;
            foreach (int k in Live)
            {
                OneReadSelection end = _select![k].ResolveOneRead();
                if (end == OneReadSelection.Missed) missed = true;
                else _threshold[k] = _select[k].Threshold;
                agree &= end == OneReadSelection.Provisional;
            }
            if (missed) return OneReadEnd.StartOver;
            if (agree) return OneReadEnd.Done;
            return deferred.Overflowed ? OneReadEnd.MergeAgain : OneReadEnd.MergeDeferred;
        }

        private IEnumerable<RadixSelect> Selecting => _select!.Where((r, k) => _s.Weights[k] != 0 && r.RemainingPasses > 0);

        public override long PassElements(int pass, long elements) => Selecting.Select(r => r.Limit).DefaultIfEmpty(0).Max();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        public override void Observe<T>(int pass, SliceSet<T> slices)
        {
            ReadOnlySpan<T> b = typeof(T) == typeof(float) ? default : slices.Base();
            Span<T> magnitude = Scratch<T>.ForThread(_s.Weights.Length).Total(Chunk);
            for (int k = 0; k < _s.Weights.Length; k++)
            {
                if (_s.Weights[k] == 0 || _select![k].Skips(slices.Start)) continue;
                if (typeof(T) == typeof(float))
                {
                    _select[k].CountValues(slices.StoredInput(k), slices.StoredBase(), slices.Start);
                    continue;
                }
                ReadOnlySpan<T> x = slices.Input(k);
                // Float64: a chunk at a time, so that the magnitudes are still in the L1 cache when they are counted.
                for (int at = 0; at < slices.Count; at += Chunk)
                {
                    int n = Math.Min(Chunk, slices.Count - at);
                    Span<T> m = magnitude[..n];
                    TensorPrimitives.Subtract(x.Slice(at, n), b.Slice(at, n), m);
                    TensorPrimitives.Abs(m, m);
                    _select[k].Count(MemoryMarshal.Cast<T, ulong>(m), slices.Start + at); // non-negative floats order as their bits
                }
            }
        }

        public override void EndPass(int pass)
        {
            if (_oneRead)
            {
                // The sample placed each input's window and provisional threshold, which decides its keys until the counts are complete.
                foreach (int k in Live)
                {
                    _select![k].EndPass();
                    _threshold[k] = _select[k].Provisional;
                }
                _ended++;
                return;
            }
            for (int k = 0; k < _s.Weights.Length; k++)
            {
                if (_s.Weights[k] == 0) continue;
                _select![k].EndPass();
                if (_select[k].RemainingPasses == 0) _threshold[k] = _select[k].Threshold;
            }
            _ended++;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        public override void Merge<T>(SliceSet<T> slices, Span<T> output)
        {
            Scratch<T> scratch = Scratch<T>.ForThread(_s.Weights.Length);
            for (int at = 0; at < slices.Count; at += Chunk)
            {
                int n = Math.Min(Chunk, slices.Count - at);
                if (typeof(T) == typeof(float))
                {
                    var single = (SliceSet<float>)(object)slices;
                    var rows = (Scratch<float>)(object)scratch;
                    Span<float> into = MemoryMarshal.Cast<T, float>(output.Slice(at, n));
                    bool bf16 = single.StoredBase().IsBFloat16;
                    if (_s.Consensus && bf16) ElectSingle<BFloat16Lanes>(single, at, n, rows, into);
                    else if (_s.Consensus) ElectSingle<SingleLanes>(single, at, n, rows, into);
                    else if (bf16) SumSingle<BFloat16Lanes>(single, at, n, rows, into);
                    else SumSingle<SingleLanes>(single, at, n, rows, into);
                }
                else MergeChunk(slices, at, n, scratch, output.Slice(at, n));
            }
        }

        /// <summary>Merges elements [<paramref name="at"/>, at + n) of a slice: every row of the computation fits the L1 cache.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void MergeChunk<T>(SliceSet<T> slices, int at, int n, Scratch<T> scratch, Span<T> output) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int inputs = _s.Weights.Length;
            ReadOnlySpan<T> b = slices.Base().Slice(at, n);
            // δₖ = λₖ · sparsify(xₖ − θ₀), one row per input.
            for (int k = 0; k < inputs; k++)
            {
                Span<T> delta = scratch.Delta(k, n);
                if (_s.Weights[k] == 0)
                {
                    delta.Clear();
                    continue;
                }
                ReadOnlySpan<T> x = slices.Input(k).Slice(at, n);
                TensorPrimitives.Subtract(x, b, delta);
                if (_s.Sparsification == Sparsification.Magnitude) TrimByMagnitude(delta, _threshold[k]);
                else if (_s.Sparsification == Sparsification.Random) Drop(delta, x, slices.Start + at);
                double scale = _s.Weights[k] * (_s.Rescale ? 1 / _s.Density : 1);
                TensorPrimitives.Multiply(delta, T.CreateTruncating(scale), delta);
            }
            Span<T> mixed = scratch.Mixed(n);
            if (!_s.Consensus)
            {
                mixed.Clear();
                for (int k = 0; k < inputs; k++) TensorPrimitives.Add(mixed, scratch.Delta(k, n), mixed);
                double divisor = _s.Weights.Sum();
                if (Math.Abs(divisor) < 1e-8) divisor = 1;
                double factor = _s.Lambda / (_s.Normalize ? divisor : 1);
                TensorPrimitives.MultiplyAdd(mixed, T.CreateTruncating(factor), b, output);
                return;
            }
            // Sign election: per element, the sign of Σ δₖ (≥ 0 counts as +, as mergekit's 'sum'); only the δₖ of
            // that sign (not zeros) are summed, and normalize divides by the sum of their weights.
            Span<T> total = scratch.Total(n);
            total.Clear();
            for (int k = 0; k < inputs; k++) TensorPrimitives.Add(total, scratch.Delta(k, n), total);
            Span<T> weight = scratch.Weight(n);
            mixed.Clear();
            weight.Clear();
            int width = Vector<T>.Count, vectorEnd = n - n % width;
            for (int k = 0; k < inputs; k++)
            {
                if (_s.Weights[k] == 0) continue;
                ReadOnlySpan<T> d = scratch.Delta(k, n);
                T wk = T.CreateTruncating(_s.Weights[k]);
                var wv = new Vector<T>(wk);
                for (int i = 0; i < vectorEnd; i += width)
                {
                    var dv = new Vector<T>(d[i..]);
                    Vector<T> positive = Vector.GreaterThanOrEqual(new Vector<T>(total[i..]), Vector<T>.Zero);
                    Vector<T> agree = (positive & Vector.GreaterThan(dv, Vector<T>.Zero)) | Vector.AndNot(Vector.LessThan(dv, Vector<T>.Zero), positive);
                    (new Vector<T>(mixed[i..]) + (agree & dv)).CopyTo(mixed[i..]);
                    (new Vector<T>(weight[i..]) + (agree & wv)).CopyTo(weight[i..]);
                }
                for (int i = vectorEnd; i < n; i++)
                {
                    if (total[i] >= T.Zero ? d[i] > T.Zero : d[i] < T.Zero)
                    {
                        mixed[i] += d[i];
                        weight[i] += wk;
                    }
                }
            }
            if (_s.Normalize)
            {
                // Where no input agrees, the sum is 0 and the divisor 1 (mergekit's divisor[divisor == 0] = 1).
                for (int i = 0; i < vectorEnd; i += width)
                {
                    var w = new Vector<T>(weight[i..]);
                    (new Vector<T>(mixed[i..]) / Vector.ConditionalSelect(Vector.Equals(w, Vector<T>.Zero), Vector<T>.One, w)).CopyTo(mixed[i..]);
                }
                for (int i = vectorEnd; i < n; i++)
                    if (weight[i] != T.Zero) mixed[i] /= weight[i];
            }
            TensorPrimitives.MultiplyAdd(mixed, T.CreateTruncating(_s.Lambda), b, output);
        }

        /// <summary>
        /// <see cref="MergeChunk"/> for float32 without sign election (task arithmetic, dare_linear), fused: one pass per
        /// input adds its δₖ = λₖ · sparsify(xₖ − θ₀) to the sum, one more writes θ₀ + factor · sum. The same operations in
        /// the same order as <see cref="MergeChunk"/>'s, so the same bits; the values are read as stored (bfloat16 widened in registers).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void SumSingle<TLanes>(SliceSet<float> slices, int at, int n, Scratch<float> scratch, Span<float> output) where TLanes : struct, IFloatLanes
        {
            const int width = 8;
            int vectorEnd = Vector256.IsHardwareAccelerated ? n - n % width : 0;
            int wideEnd = Vector512.IsHardwareAccelerated ? n - n % 16 : 0; // elementwise: the same bits at any width
            ref byte br = ref Unsafe.Add(ref slices.StoredBase().Data, at * TLanes.Size);
            Span<float> mixed = scratch.Mixed(n), dropped = scratch.Total(n);
            if (output.Length != n) throw new ArgumentException("one output element per input element", nameof(output));
            ref float mr = ref MemoryMarshal.GetReference(mixed), pr = ref MemoryMarshal.GetReference(dropped), or = ref MemoryMarshal.GetReference(output);
            bool trim = _s.Sparsification == Sparsification.Magnitude, drop = _s.Sparsification == Sparsification.Random;
            mixed.Clear(); // (the sum starts at +0, as MergeChunk's: an input of weight 0 adds nothing to it)
            for (int k = 0; k < _s.Weights.Length; k++)
            {
                if (_s.Weights[k] == 0) continue;
                ref byte xr = ref Unsafe.Add(ref slices.StoredInput(k).Data, at * TLanes.Size);
                float scale = Prepare<TLanes>(k, drop, ref xr, ref br, dropped, slices.Start + at);
                uint threshold = (uint)_threshold[k];
                Vector256<float> scaleV = Vector256.Create(scale);
                Vector256<uint> thresholdV = Vector256.Create(threshold);
                Vector512<float> scaleW = Vector512.Create(scale);
                Vector512<uint> thresholdW = Vector512.Create(threshold);
                int i = 0;
                for (; i < wideEnd; i += 16)
                    (Vector512.LoadUnsafe(ref mr, (nuint)i) + Sparse<TLanes>(drop, trim, ref pr, ref xr, ref br, (nuint)i, thresholdW) * scaleW).StoreUnsafe(ref mr, (nuint)i);
                for (; i < vectorEnd; i += width)
                    (Vector256.LoadUnsafe(ref mr, (nuint)i) + Sparse<TLanes>(drop, trim, ref pr, ref xr, ref br, (nuint)i, thresholdV) * scaleV).StoreUnsafe(ref mr, (nuint)i);
                for (; i < n; i++) mixed[i] += Sparse<TLanes>(drop, trim, ref pr, ref xr, ref br, (nuint)i, threshold) * scale;
            }
            double divisor = _s.Weights.Sum();
            if (Math.Abs(divisor) < 1e-8) divisor = 1;
            float factor = (float)(_s.Lambda / (_s.Normalize ? divisor : 1));
            Vector256<float> factorV = Vector256.Create(factor);
            Vector512<float> factorW = Vector512.Create(factor);
            int j = 0;
            for (; j < wideEnd; j += 16)
                (Vector512.LoadUnsafe(ref mr, (nuint)j) * factorW + TLanes.Load512(ref br, (nuint)j)).StoreUnsafe(ref or, (nuint)j);
            for (; j < vectorEnd; j += width)
                (Vector256.LoadUnsafe(ref mr, (nuint)j) * factorV + TLanes.Load(ref br, (nuint)j)).StoreUnsafe(ref or, (nuint)j);
            for (; j < n; j++) output[j] = mixed[j] * factor + TLanes.Get(ref br, (nuint)j);
        }

        /// <summary>
        /// <see cref="MergeChunk"/> for float32 with sign election (ties, dare_ties, and task arithmetic with
        /// consensus), fused: one pass per input makes δₖ and the running total, one more elects, averages and
        /// writes θ₀ + lambda · mixed, instead of a dozen passes over the chunk. The same operations in the same
        /// order, so the same bits (a test compares them with the scalar definition, bit for bit).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void ElectSingle<TLanes>(SliceSet<float> slices, int at, int n, Scratch<float> scratch, Span<float> output) where TLanes : struct, IFloatLanes
        {
            const int width = 8; // Vector256<float>: with refs, twice as fast here as Vector<T> over sliced spans
            int inputs = _s.Weights.Length, vectorEnd = Vector256.IsHardwareAccelerated ? n - n % width : 0;
            int wideEnd = Vector512.IsHardwareAccelerated ? n - n % 16 : 0; // elementwise: the same bits at any width
            // The slices as stored (bfloat16 widened in registers as it is loaded), from element `at` on.
            ref byte br = ref Unsafe.Add(ref slices.StoredBase().Data, at * TLanes.Size);
            Span<float> total = scratch.Total(n);
            if (output.Length != n) throw new ArgumentException("one output element per input element", nameof(output));
            ref float tr = ref MemoryMarshal.GetReference(total), or = ref MemoryMarshal.GetReference(output);
            bool trim = _s.Sparsification == Sparsification.Magnitude, drop = _s.Sparsification == Sparsification.Random;
            for (int k = 0; k < inputs; k++)
            {
                Span<float> delta = scratch.Delta(k, n);
                ref float dr = ref MemoryMarshal.GetReference(delta);
                bool zero = _s.Weights[k] == 0, first = k == 0;
                ref byte xr = ref (zero ? ref br : ref Unsafe.Add(ref slices.StoredInput(k).Data, at * TLanes.Size));
                float scale = Prepare<TLanes>(k, drop && !zero, ref xr, ref br, delta, slices.Start + at);
                uint threshold = (uint)_threshold[k];
                Vector256<float> scaleV = Vector256.Create(scale);
                Vector256<uint> thresholdV = Vector256.Create(threshold);
                Vector512<float> scaleW = Vector512.Create(scale);
                Vector512<uint> thresholdW = Vector512.Create(threshold);
                int i = 0;
                for (; i < wideEnd; i += 16)
                {
                    Vector512<float> d = zero ? Vector512<float>.Zero : Sparse<TLanes>(drop, trim, ref dr, ref xr, ref br, (nuint)i, thresholdW) * scaleW;
                    d.StoreUnsafe(ref dr, (nuint)i);
                    ((first ? Vector512<float>.Zero : Vector512.LoadUnsafe(ref tr, (nuint)i)) + d).StoreUnsafe(ref tr, (nuint)i);
                }
                for (; i < vectorEnd; i += width)
                {
                    Vector256<float> d = zero ? Vector256<float>.Zero : Sparse<TLanes>(drop, trim, ref dr, ref xr, ref br, (nuint)i, thresholdV) * scaleV;
                    d.StoreUnsafe(ref dr, (nuint)i);
                    ((first ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref tr, (nuint)i)) + d).StoreUnsafe(ref tr, (nuint)i);
                }
                for (; i < n; i++)
                {
                    float d = zero ? 0 : Sparse<TLanes>(drop, trim, ref dr, ref xr, ref br, (nuint)i, threshold) * scale;
                    delta[i] = d;
                    total[i] = (first ? 0 : total[i]) + d;
                }
            }
            float[][] rows = scratch.Rows;
            float lambda = (float)_s.Lambda;
            Vector256<float> lambdaV = Vector256.Create(lambda);
            Span<Vector256<float>> weightV = stackalloc Vector256<float>[inputs];
            for (int k = 0; k < inputs; k++) weightV[k] = Vector256.Create((float)_s.Weights[k]);
            int at16 = 0;
            if (wideEnd > 0) at16 = ElectWide<TLanes>(rows, wideEnd, ref tr, ref br, ref or);
            for (int i = at16; i < vectorEnd; i += width)
            {
                Vector256<float> positive = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref tr, (nuint)i), Vector256<float>.Zero);
                Vector256<float> mixed = Vector256<float>.Zero, weight = Vector256<float>.Zero;
                for (int k = 0; k < inputs; k++)
                {
                    if (_s.Weights[k] == 0) continue;
                    Vector256<float> d = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(rows[k]), (nuint)i);
                    Vector256<float> agree = (positive & Vector256.GreaterThan(d, Vector256<float>.Zero))
                        | Vector256.AndNot(Vector256.LessThan(d, Vector256<float>.Zero), positive);
                    mixed += agree & d;
                    weight += agree & weightV[k];
                }
                if (_s.Normalize) mixed /= Vector256.ConditionalSelect(Vector256.Equals(weight, Vector256<float>.Zero), Vector256<float>.One, weight);
                (mixed * lambdaV + TLanes.Load(ref br, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
            }
            for (int i = vectorEnd; i < n; i++)
            {
                float mixed = 0, weight = 0;
                for (int k = 0; k < inputs; k++)
                {
                    if (_s.Weights[k] == 0) continue;
                    float d = rows[k][i];
                    if (total[i] >= 0 ? d > 0 : d < 0)
                    {
                        mixed += d;
                        weight += (float)_s.Weights[k];
                    }
                }
                if (_s.Normalize && weight != 0) mixed /= weight;
                output[i] = mixed * lambda + TLanes.Get(ref br, (nuint)i);
            }
        }

        /// <summary>
        /// A fused kernel's set-up of input <paramref name="k"/>: with <paramref name="drop"/> (DARE), τ = x − θ₀ with the random
        /// drop applied into <paramref name="row"/> (its draws need x), which <see cref="Sparse{TLanes}(bool, bool, ref float, ref byte, ref byte, nuint, Vector256{uint})"/>
        /// then reads as "x − θ₀". Returns the scale of the input's δ: its weight, ÷ density when rescaling.
        /// </summary>
        private float Prepare<TLanes>(int k, bool drop, ref byte x, ref byte b, Span<float> row, long start) where TLanes : struct, IFloatLanes
        {
            if (drop)
            {
                Subtract<TLanes>(ref x, ref b, row);
                DropStored<TLanes>(row, ref x, start);
            }
            return (float)(_s.Weights[k] * (_s.Rescale ? 1 / _s.Density : 1));
        }

        /// <summary><see cref="ElectSingle{TLanes}"/>'s election over the first <paramref name="n"/> elements (a multiple of 16), sixteen at a time; returns n.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop (not inlined: it stackallocs): straight to optimised code
        private int ElectWide<TLanes>(float[][] rows, int n, ref float tr, ref byte br, ref float or) where TLanes : struct, IFloatLanes
        {
            // The inputs of nonzero weight, their rows and weights hoisted out of the loop.
            int live = 0;
            Span<int> index = stackalloc int[_s.Weights.Length];
            Span<Vector512<float>> weightW = stackalloc Vector512<float>[_s.Weights.Length];
            for (int k = 0; k < _s.Weights.Length; k++)
            {
                if (_s.Weights[k] == 0) continue;
                index[live] = k;
                weightW[live++] = Vector512.Create((float)_s.Weights[k]);
            }
            bool normalize = _s.Normalize;
            Vector512<float> lambdaW = Vector512.Create((float)_s.Lambda);
            ref float[] row0 = ref MemoryMarshal.GetArrayDataReference(rows);
            for (int i = 0; i < n; i += 16)
            {
                Vector512<float> positive = Vector512.GreaterThanOrEqual(Vector512.LoadUnsafe(ref tr, (nuint)i), Vector512<float>.Zero);
                Vector512<float> mixed = Vector512<float>.Zero, weight = Vector512<float>.Zero;
                for (int j = 0; j < live; j++)
                {
                    Vector512<float> d = Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(Unsafe.Add(ref row0, index[j])), (nuint)i);
                    Vector512<float> agree = (positive & Vector512.GreaterThan(d, Vector512<float>.Zero))
                        | Vector512.AndNot(Vector512.LessThan(d, Vector512<float>.Zero), positive);
                    mixed += agree & d;
                    weight += agree & weightW[j];
                }
                if (normalize) mixed /= Vector512.ConditionalSelect(Vector512.Equals(weight, Vector512<float>.Zero), Vector512<float>.One, weight);
                (mixed * lambdaW + TLanes.Load512(ref br, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
            }
            return n;
        }

        /// <summary>
        /// Eight elements of τ = x − θ₀ as the fused kernels sparsify it, from element <paramref name="i"/>: DARE's row with
        /// the drop applied (<paramref name="drop"/>; <paramref name="dropped"/>), else x − θ₀ read as stored; with
        /// <paramref name="trim"/> (TIES), zero where |τ|'s bits are below the threshold, as the selection counted them.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // called in the fused kernels' loops, which are not tiered
        private static Vector256<float> Sparse<TLanes>(bool drop, bool trim, ref float dropped, ref byte x, ref byte b, nuint i, Vector256<uint> threshold) where TLanes : struct, IFloatLanes
        {
            Vector256<float> d = drop ? Vector256.LoadUnsafe(ref dropped, i) : TLanes.Load(ref x, i) - TLanes.Load(ref b, i);
            if (!trim) return d;
            Vector256<uint> bits = d.AsUInt32();
            return Vector256.AndNot(bits, Vector256.LessThan(bits & Vector256.Create(0x7FFF_FFFFu), threshold)).AsSingle();
        }

        /// <summary>Sixteen elements of <see cref="Sparse{TLanes}(bool, bool, ref float, ref byte, ref byte, nuint, Vector256{uint})"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Sparse<TLanes>(bool drop, bool trim, ref float dropped, ref byte x, ref byte b, nuint i, Vector512<uint> threshold) where TLanes : struct, IFloatLanes
        {
            Vector512<float> d = drop ? Vector512.LoadUnsafe(ref dropped, i) : TLanes.Load512(ref x, i) - TLanes.Load512(ref b, i);
            if (!trim) return d;
            Vector512<uint> bits = d.AsUInt32();
            return Vector512.AndNot(bits, Vector512.LessThan(bits & Vector512.Create(0x7FFF_FFFFu), threshold)).AsSingle();
        }

        /// <summary>One element of <see cref="Sparse{TLanes}(bool, bool, ref float, ref byte, ref byte, nuint, Vector256{uint})"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float Sparse<TLanes>(bool drop, bool trim, ref float dropped, ref byte x, ref byte b, nuint i, uint threshold) where TLanes : struct, IFloatLanes
        {
            float d = drop ? Unsafe.Add(ref dropped, i) : TLanes.Get(ref x, i) - TLanes.Get(ref b, i);
            return trim && (BitConverter.SingleToUInt32Bits(d) & 0x7FFF_FFFFu) < threshold ? 0 : d;
        }

        /// <summary>Zeroes the elements of magnitude below the threshold (compared as bit patterns, as the selection counted them).</summary>
        private static void TrimByMagnitude<T>(Span<T> delta, ulong threshold) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (typeof(T) == typeof(float)) Trim(MemoryMarshal.Cast<T, uint>(delta), (uint)threshold, 0x7FFF_FFFFu);
            else Trim(MemoryMarshal.Cast<T, ulong>(delta), threshold, 0x7FFF_FFFF_FFFF_FFFFUL);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static void Trim<TBits>(Span<TBits> bits, TBits threshold, TBits magnitude) where TBits : unmanaged, IBinaryInteger<TBits>
        {
            int width = Vector<TBits>.Count, vectorEnd = bits.Length - bits.Length % width;
            Vector<TBits> t = new(threshold), m = new(magnitude);
            for (int i = 0; i < vectorEnd; i += width)
            {
                var v = new Vector<TBits>(bits[i..]);
                Vector.AndNot(v, Vector.LessThan(v & m, t)).CopyTo(bits[i..]);
            }
            for (int i = vectorEnd; i < bits.Length; i++)
                if ((bits[i] & magnitude) < threshold) bits[i] = TBits.Zero;
        }

        /// <summary>
        /// Zeroes each element whose uniform draw is at or above the density. The draw is a hash of the seed,
        /// the tensor's name, the element's position and the input's values there: it depends neither on threads,
        /// slices nor the order of the inputs, and two experts draw independently wherever their weights differ
        /// (where they are equal, so are their task vectors, and a shared draw changes nothing). float32 values
        /// (and bfloat16, widened) are drawn in pairs (<see cref="DropStored{TLanes}"/>); float64 one at a time.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void Drop<T>(Span<T> delta, ReadOnlySpan<T> x, long start) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (typeof(T) == typeof(float))
            {
                DropStored<SingleLanes>(MemoryMarshal.Cast<T, float>(delta), ref MemoryMarshal.GetReference(MemoryMarshal.AsBytes(x)), start);
                return;
            }
            ulong stream = Stream(_s.Seed, _tensorKey);
            ulong below = (ulong)(_s.Density * (1UL << 53));
            for (int i = 0; i < delta.Length; i++)
                if (Mix(stream ^ ((ulong)(start + i) * IndexKey) ^ (BitConverter.DoubleToUInt64Bits(double.CreateTruncating(x[i])) * ValueKey)) >> 11 >= below) delta[i] = T.Zero;
        }

        /// <summary>
        /// <see cref="Drop{T}"/> for float32 values as stored (<paramref name="x"/>: as many as <paramref name="delta"/> holds,
        /// from element <paramref name="start"/> of the tensor, an even number). Elements 2p and 2p + 1 draw together: one
        /// SplitMix64 hash of the stream (seed and tensor), the pair's index p and the input's two float32 values there (their
        /// bits, element 2p's in the low half: the pair's eight bytes as float32) gives 64 bits, the low 32 element 2p's draw,
        /// the high 32 element 2p + 1's, each compared with density · 2³² (<see cref="PairDraw"/>). A tensor's odd last element
        /// pairs with the value bits 0. Sixteen elements (eight hashes) at a time with AVX-512, else eight; the same draws.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void DropStored<TLanes>(Span<float> delta, ref byte x, long start) where TLanes : struct, IFloatLanes
        {
            if ((start & 1) != 0) throw new ArgumentException($"DARE draws elements in pairs: a slice must start at an even element, not {start}", nameof(start));
            ulong stream = Stream(_s.Seed, _tensorKey);
            uint below = Below(_s.Density);
            int i = 0, n = delta.Length;
            ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(delta));
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<ulong> offsets = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7), streamV = Vector512.Create(stream);
                Vector512<uint> belowV = Vector512.Create(below);
                for (; i <= n - 16; i += 16)
                {
                    Vector512<ulong> pairs = Vector512.Create((ulong)((start + i) >> 1)) + offsets;
                    Vector512<uint> draws = Draw(streamV, pairs, TLanes.Load512(ref x, (nuint)i).AsUInt64()).AsUInt32();
                    (Vector512.LoadUnsafe(ref d, (nuint)i) & Vector512.LessThan(draws, belowV)).StoreUnsafe(ref d, (nuint)i);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<ulong> offsets = Vector256.Create(0UL, 1, 2, 3), streamV = Vector256.Create(stream);
                Vector256<uint> belowV = Vector256.Create(below);
                for (; i <= n - 8; i += 8)
                {
                    Vector256<ulong> pairs = Vector256.Create((ulong)((start + i) >> 1)) + offsets;
                    Vector256<uint> draws = Draw(streamV, pairs, TLanes.Load(ref x, (nuint)i).AsUInt64()).AsUInt32();
                    (Vector256.LoadUnsafe(ref d, (nuint)i) & Vector256.LessThan(draws, belowV)).StoreUnsafe(ref d, (nuint)i);
                }
            }
            for (; i < n; i += 2)
            {
                uint low = BitConverter.SingleToUInt32Bits(TLanes.Get(ref x, (nuint)i));
                if (i + 1 == n && start + n != _elements)
                    throw new ArgumentException("DARE draws elements in pairs: only a tensor's last slice may end at an odd element", nameof(delta));
                uint high = i + 1 < n ? BitConverter.SingleToUInt32Bits(TLanes.Get(ref x, (nuint)(i + 1))) : 0;
                ulong draws = PairDraw(stream, (start + i) >> 1, low, high);
                if ((uint)draws >= below) delta[i] = 0;
                if (i + 1 < n && (uint)(draws >> 32) >= below) delta[i + 1] = 0;
            }
        }

        /// <summary>δ = x − θ₀ for values as stored (as many as <paramref name="delta"/> holds).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static void Subtract<TLanes>(ref byte x, ref byte b, Span<float> delta) where TLanes : struct, IFloatLanes
        {
            int i = 0, n = delta.Length;
            ref float d = ref MemoryMarshal.GetReference(delta);
            if (Vector512.IsHardwareAccelerated)
                for (; i <= n - 16; i += 16) (TLanes.Load512(ref x, (nuint)i) - TLanes.Load512(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            if (Vector256.IsHardwareAccelerated)
                for (; i <= n - 8; i += 8) (TLanes.Load(ref x, (nuint)i) - TLanes.Load(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
            for (; i < n; i++) delta[i] = TLanes.Get(ref x, (nuint)i) - TLanes.Get(ref b, (nuint)i);
        }

        internal static ulong Stream(ulong seed, ulong tensorKey) => Mix(Mix(seed ^ 0x5DEECE66DUL) ^ tensorKey);

        private const ulong IndexKey = 0x9E3779B97F4A7C15UL, ValueKey = 0xD6E8FEB86659FD93UL;

        /// <summary>Draws below this (of 2³²) keep their element: density · 2³², at most 2³² − 1 (a density below 1).</summary>
        internal static uint Below(double density) => (uint)Math.Min(density * 4294967296.0, uint.MaxValue);

        /// <summary>The draws of pair <paramref name="pair"/> (elements 2p, 2p + 1) whose float32 values have bits <paramref name="low"/>, <paramref name="high"/>: element 2p's in the low 32 bits, 2p + 1's in the high.</summary>
        internal static ulong PairDraw(ulong stream, long pair, uint low, uint high) =>
            Mix(stream ^ ((ulong)pair * IndexKey) ^ ((low | (ulong)high << 32) * ValueKey));

        /// <summary>The scalar <see cref="PairDraw"/>, four pairs at a time (inlined: without a profile the JIT would not).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<ulong> Draw(Vector256<ulong> stream, Vector256<ulong> pair, Vector256<ulong> values)
        {
            Vector256<ulong> z = stream ^ (pair * Vector256.Create(IndexKey)) ^ (values * Vector256.Create(ValueKey));
            z += Vector256.Create(0x9E3779B97F4A7C15UL);
            z = (z ^ (z >>> 30)) * Vector256.Create(0xBF58476D1CE4E5B9UL);
            z = (z ^ (z >>> 27)) * Vector256.Create(0x94D049BB133111EBUL);
            return z ^ (z >>> 31);
        }

        /// <summary>The scalar <see cref="PairDraw"/>, eight pairs at a time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<ulong> Draw(Vector512<ulong> stream, Vector512<ulong> pair, Vector512<ulong> values)
        {
            Vector512<ulong> z = stream ^ (pair * Vector512.Create(IndexKey)) ^ (values * Vector512.Create(ValueKey));
            z += Vector512.Create(0x9E3779B97F4A7C15UL);
            z = (z ^ (z >>> 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
            z = (z ^ (z >>> 27)) * Vector512.Create(0x94D049BB133111EBUL);
            return z ^ (z >>> 31);
        }

        /// <summary>SplitMix64's finaliser.</summary>
        private static ulong Mix(ulong z)
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>
    /// Elements a kernel computes at a time within a slice: 2 Ki, so that its rows (a δ per input, the total,
    /// the elected sum and its weight: 8 KiB each in float32) stay in the L1 cache between the steps that
    /// write and read them. With whole 32 Ki slices they spilled to L3, and ties took 5× task arithmetic.
    /// </summary>
    private const int Chunk = 2048;

    /// <summary>A thread's bits of a slice's elements, one per element (cleared when taken).</summary>
    private static class PendingBits
    {
        [ThreadStatic]
        private static ulong[]? _bits;

        public static Span<ulong> ForThread(int elements)
        {
            int words = (elements + 63) / 64;
            ulong[] bits = _bits is { } b && b.Length >= words ? b : _bits = new ulong[Math.Max(words, StreamingMerge.SliceElements / 64)];
            Span<ulong> span = bits.AsSpan(0, words);
            span.Clear();
            return span;
        }
    }

    /// <summary>Per-thread rows of <see cref="Chunk"/> elements: one δ per input, the elected sum and the total.</summary>
    private sealed class Scratch<T> where T : unmanaged
    {
        [ThreadStatic]
        private static Scratch<T>? _current;

        private T[][] _delta = [];
        private readonly T[] _mixed = new T[Chunk], _total = new T[Chunk], _weight = new T[Chunk];

        public static Scratch<T> ForThread(int inputs)
        {
            Scratch<T> s = _current ??= new Scratch<T>();
            if (s._delta.Length < inputs) s._delta = Enumerable.Range(0, inputs).Select(_ => new T[Chunk]).ToArray();
            return s;
        }

        public Span<T> Delta(int k, int n) => _delta[k].AsSpan(0, n);

        /// <summary>The δ rows as arrays, for a kernel that reads every input's at once.</summary>
        public T[][] Rows => _delta;

        public Span<T> Mixed(int n) => _mixed.AsSpan(0, n);

        public Span<T> Total(int n) => _total.AsSpan(0, n);

        public Span<T> Weight(int n) => _weight.AsSpan(0, n);
    }

    /// <summary>How a one-read selection ended (<see cref="RadixSelect.ResolveOneRead"/>).</summary>
    private enum OneReadSelection
    {
        /// <summary>The answer decides every key as the provisional threshold did.</summary>
        Provisional,

        /// <summary>The answer lies in the window; keys inside it may have been decided otherwise.</summary>
        Found,

        /// <summary>The answer lies outside the window.</summary>
        Missed,
    }

    /// <summary>
    /// The k-th largest of a stream of non-negative float bit patterns (unsigned, so ordered as the
    /// magnitudes), 16 bits per pass from the top: a histogram of the next digit among the elements whose
    /// higher digits equal the prefix found so far. Exact, with 512 KiB of counts instead of a sorted copy.
    /// </summary>
    /// <remarks>
    /// For 32-bit keys of a large tensor the first pass histograms only a sample and the second pass
    /// mostly disappears. Once the first pass has seen <see cref="SampleFraction"/> of the tensor, its
    /// histogram so far estimates the top digit of the answer; from then on the pass only counts, with vector
    /// compares, the keys above a window of <see cref="Window"/> top digits on each side of that estimate,
    /// and histograms the low digits of the few keys inside it. When the answer's top digit turns out to lie
    /// in the window, those counts are exact for the rest of the tensor, and the second pass only reads the
    /// sample (<see cref="Limit"/>). Otherwise (a tensor whose start is not like the rest) the top digit is
    /// counted again over the whole tensor, and the low digit after it: one pass more. Either way the
    /// result is the same k-th largest key.
    /// </remarks>
    private sealed class RadixSelect(long rank, int bits, long elements)
    {
        /// <summary>Tensors smaller than this take two full passes (the window's counts would cost more than they save).</summary>
        public const long WindowedFrom = 1 << 20;

        /// <summary>The share of a large tensor the estimate is made from (then re-read by the second pass).</summary>
        private const int SampleFraction = 32;

        /// <summary>Keys the estimate is made from, at least: its error stays within the window's bins.</summary>
        private const long MinimumSample = 256 * 1024;

        /// <summary>Top digits on each side of the estimate whose low digits the first pass counts.</summary>
        private const int Window = 2;

        private const int Span = 2 * Window + 1;

        private long[]? _counts;   // rented when the first pass starts, returned after the last (a merge selects per input per tensor)
        private ulong _prefix;
        private long _rank = rank;
        private int _level;        // digits of the answer found so far
        private readonly long _elements = elements;

        // The window: from the first slice at or after _sampleEnd, the low digits of keys whose top digit is in
        // [_low, _low + Span), and the number of keys above it.
        private readonly long _sampleEnd = bits == 32 && elements >= WindowedFrom && elements <= uint.MaxValue
            ? (Math.Max(elements / SampleFraction, MinimumSample) + StreamingMerge.SliceElements - 1) / StreamingMerge.SliceElements * StreamingMerge.SliceElements
            : long.MaxValue;
        private uint[]? _window;   // [Span × 65536]
        private int _low = -1;
        private long _above;
        private bool _recount;     // the window missed the answer: the top digit is counted again, over everything

        /// <summary>The k-th largest key once every pass has ended.</summary>
        public ulong Threshold => _prefix;

        /// <summary>Passes still to come: one per digit not found yet.</summary>
        public int RemainingPasses => bits / 16 - _level;

        /// <summary>Elements (from the start) the next pass must see: fewer than all when the window resolved the rest.</summary>
        public long Limit { get; private set; } = elements;

        /// <summary>Whether the current pass has nothing to count from element <paramref name="start"/> on.</summary>
        public bool Skips(long start) => RemainingPasses == 0 || start >= Limit;

        /// <summary>
        /// Switches to one read (before the first pass; false where the tensor takes no window): the first pass reads only
        /// the sample and opens the window, then <see cref="CountSlice"/> counts every key of the tensor, the sample's
        /// included, against the window while the merge runs, and <see cref="ResolveOneRead"/> finds the answer from those
        /// counts alone.
        /// </summary>
        public bool TryOneRead()
        {
            if (_sampleEnd == long.MaxValue || _level != 0 || _counts is not null) return false;
            _oneRead = true;
            Limit = _sampleEnd;
            return true;
        }

        private bool _oneRead;
        private int _estimate;     // the sample's top digit of the answer (in the window)

        /// <summary>
        /// In one read, after the sample: the provisional threshold, the first key of the top digit the sample puts the
        /// answer in. Keys above the window are kept and keys below it dropped whatever the answer; keys inside it are
        /// decided by this one until <see cref="ResolveOneRead"/> says whether it decided them as the answer does.
        /// </summary>
        public uint Provisional => (uint)_estimate << 16;

        /// <summary>
        /// In one read: counts the keys |x − θ₀| of a slice (any slice, in any order) against the window, and sets in
        /// <paramref name="pending"/> (bit i of word i / 64) the elements whose key lies inside it.
        /// </summary>
        public void CountSlice(StoredFloats x, StoredFloats b, Span<ulong> pending)
        {
            if (!_oneRead || _window is null) throw new InvalidOperationException("CountSlice counts a one-read selection's window, after its sample");
            if (b.Count != x.Count || b.IsBFloat16 != x.IsBFloat16 || pending.Length < (x.Count + 63) / 64) throw new ArgumentException("two slices of one length and dtype, a bit per element");
            if (x.IsBFloat16) CountSlice<BFloat16Lanes>(ref x.Data, ref b.Data, x.Count, pending);
            else CountSlice<SingleLanes>(ref x.Data, ref b.Data, x.Count, pending);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void CountSlice<TLanes>(ref byte xr, ref byte br, int n, Span<ulong> pending) where TLanes : struct, IFloatLanes
        {
            const int width = 8;
            int vectorEnd = Vector256.IsHardwareAccelerated ? n - n % width : 0;
            uint[] window = _window!;
            uint first = (uint)_low << 16, size = (uint)Span << 16;
            long above = vectorEnd > 0 ? CountWindow<TLanes>(ref xr, ref br, vectorEnd, window, first, pending) : 0;
            for (int i = vectorEnd; i < n; i++)
            {
                uint key = Key(TLanes.Get(ref xr, (nuint)i), TLanes.Get(ref br, (nuint)i)), offset = key - first;
                if (offset < size)
                {
                    window[offset]++;
                    pending[i >> 6] |= 1UL << (i & 63);
                }
                else if (key >= first + size) above++;
            }
            _above += above;
        }

        /// <summary>
        /// In one read, after every key was counted: the answer, if it lies in the window (then <see cref="Threshold"/> is
        /// the k-th largest key and no pass remains): <see cref="OneReadSelection.Provisional"/> where no key lies between
        /// it and <see cref="Provisional"/> (every key was decided as the answer decides it: quantised task vectors, whose
        /// magnitudes take few values, mostly end so), else <see cref="OneReadSelection.Found"/>.
        /// <see cref="OneReadSelection.Missed"/> where the answer lies outside the window (the tensor's start was unlike
        /// the rest: the selection must start again, as a two-pass one).
        /// </summary>
        public OneReadSelection ResolveOneRead()
        {
            if (!_oneRead || _window is null) throw new InvalidOperationException("ResolveOneRead ends a one-read selection's counting");
            uint[] window = _window;
            _window = null;
            bool found = false;
            long seen = _above;
            if (seen < _rank)
            {
                for (int at = (Span << 16) - 1; at >= 0; at--)
                {
                    if (seen + window[at] >= _rank)
                    {
                        _prefix = ((uint)_low << 16) + (uint)at;
                        found = true;
                        break;
                    }
                    seen += window[at];
                }
            }
            if (!found)
            {
                ArrayPool<uint>.Shared.Return(window);
                return OneReadSelection.Missed;
            }
            _level = bits / 16;
            // Keys in [min, max) of the answer and the provisional threshold were decided otherwise than the answer decides them.
            uint first = (uint)_low << 16, provisional = Provisional;
            int from = (int)(Math.Min(provisional, (uint)_prefix) - first), to = (int)(Math.Max(provisional, (uint)_prefix) - first);
            bool agree = true;
            for (int at = from; at < to && agree; at++) agree = window[at] == 0;
            ArrayPool<uint>.Shared.Return(window);
            return agree ? OneReadSelection.Provisional : OneReadSelection.Found;
        }

        private int Shift => bits - 16 * (_level + 1);

        /// <summary>
        /// Counts the next digit of the keys (those of elements <paramref name="start"/> onwards, in order) whose
        /// higher digits are the prefix found so far.
        /// </summary>
        public void Count<TKey>(ReadOnlySpan<TKey> keys, long start) where TKey : unmanaged, IBinaryInteger<TKey>
        {
            if (Skips(start)) return;
            long[] counts = _counts ??= Rent<long>(1 << 16);
            int shift = Shift;
            if (_level == 0)
            {
                if (_window is not null) throw new InvalidOperationException("32-bit keys are counted from the values (CountValues)");
                foreach (TKey key in keys) counts[int.CreateTruncating(key >>> shift) & 0xFFFF]++;
                if (!_recount && start + keys.Length == _sampleEnd) OpenWindow(counts, start + keys.Length);
                return;
            }
            TKey prefix = TKey.CreateTruncating(_prefix);
            // Few keys share the prefix (those of one bin of the previous digit): a whole vector of keys is
            // skipped with one comparison, and only a vector holding one is counted key by key.
            int width = Vector<TKey>.Count, vectorEnd = keys.Length - keys.Length % width, higher = shift + 16;
            var p = new Vector<TKey>(prefix);
            for (int i = 0; i < vectorEnd; i += width)
            {
                if (!Vector.EqualsAny(new Vector<TKey>(keys[i..]) >>> higher, p)) continue;
                foreach (TKey key in keys.Slice(i, width))
                    if (key >>> higher == prefix) counts[int.CreateTruncating(key >>> shift) & 0xFFFF]++;
            }
            foreach (TKey key in keys[vectorEnd..])
                if (key >>> higher == prefix) counts[int.CreateTruncating(key >>> shift) & 0xFFFF]++;
        }

        /// <summary>The estimate: the top digit where the rank scaled to the keys seen so far falls, and the window around it.</summary>
        private void OpenWindow(long[] counts, long seen)
        {
            long rank = Math.Max(1, (long)Math.Ceiling((double)_rank * seen / _elements));
            long above = 0;
            int digit = 0xFFFF;
            for (; digit > 0; digit--)
            {
                if (above + counts[digit] >= rank) break;
                above += counts[digit];
            }
            // The window ends below the top digit 0xFFFF, so that its upper bound is a 32-bit key.
            _low = Math.Clamp(digit - Window, 0, 0xFFFF - Span);
            _estimate = Math.Clamp(digit, _low, _low + Span - 1);
            _window = Rent<uint>(Span << 16);
        }

        private static T[] Rent<T>(int length)
        {
            T[] array = ArrayPool<T>.Shared.Rent(length);
            Array.Clear(array, 0, length);
            return array;
        }

        /// <summary>
        /// Counts the keys |x − θ₀| (their float32 bits) of a slice starting at element <paramref name="start"/>:
        /// the next digit of those sharing the prefix found so far, or after the sample, the window's counts.
        /// Straight from the stored values (bfloat16 widened in registers), eight keys to a 256-bit register;
        /// only the histogram increments are scalar.
        /// </summary>
        public void CountValues(StoredFloats x, StoredFloats b, long start)
        {
            if (Skips(start)) return;
            if (bits != 32 || b.Count != x.Count || b.IsBFloat16 != x.IsBFloat16) throw new ArgumentException("32-bit keys of two slices of one length and dtype");
            if (x.IsBFloat16) CountValues<BFloat16Lanes>(ref x.Data, ref b.Data, x.Count, start);
            else CountValues<SingleLanes>(ref x.Data, ref b.Data, x.Count, start);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private void CountValues<TLanes>(ref byte xr, ref byte br, int n, long start) where TLanes : struct, IFloatLanes
        {
            long[] counts = _counts ??= Rent<long>(1 << 16);
            int i = 0;
            Vector256<uint> magnitude = Vector256.Create(0x7FFF_FFFFu);
            const int width = 8;
            int vectorEnd = Vector256.IsHardwareAccelerated ? n - n % width : 0;
            if (_level == 0 && _window is not null && start >= _sampleEnd)
            {
                uint[] window = _window;
                uint first = (uint)_low << 16, size = (uint)Span << 16;
                long above = vectorEnd > 0 ? CountWindow<TLanes>(ref xr, ref br, vectorEnd, window, first) : 0;
                for (i = vectorEnd; i < n; i++)
                {
                    uint key = Key(TLanes.Get(ref xr, (nuint)i), TLanes.Get(ref br, (nuint)i)), offset = key - first;
                    if (offset < size) window[offset]++;
                    else if (key >= first + size) above++;
                }
                _above += above;
                return;
            }
            if (_level == 0)
            {
                for (; i < vectorEnd; i += width)
                {
                    Vector256<uint> top = ((TLanes.Load(ref xr, (nuint)i) - TLanes.Load(ref br, (nuint)i)).AsUInt32() & magnitude) >>> 16;
                    for (int j = 0; j < width; j++) counts[top.GetElement(j)]++;
                }
                for (; i < n; i++) counts[Key(TLanes.Get(ref xr, (nuint)i), TLanes.Get(ref br, (nuint)i)) >> 16]++;
                if (!_recount && start + n == _sampleEnd) OpenWindow(counts, start + n);
                return;
            }
            // The low digit of the keys whose top digit is the prefix: few (one bin of the first histogram).
            uint prefix = (uint)_prefix;
            Vector256<uint> prefixV = Vector256.Create(prefix);
            for (; i < vectorEnd; i += width)
            {
                Vector256<uint> key = (TLanes.Load(ref xr, (nuint)i) - TLanes.Load(ref br, (nuint)i)).AsUInt32() & magnitude;
                for (uint match = Vector256.Equals(key >>> 16, prefixV).ExtractMostSignificantBits(); match != 0; match &= match - 1)
                    counts[key.GetElement(BitOperations.TrailingZeroCount(match)) & 0xFFFF]++;
            }
            for (; i < n; i++)
            {
                uint key = Key(TLanes.Get(ref xr, (nuint)i), TLanes.Get(ref br, (nuint)i));
                if (key >> 16 == prefix) counts[key & 0xFFFF]++;
            }
        }

        /// <summary>The window's counts of the first <paramref name="n"/> keys (a multiple of 8); returns how many are above it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: straight to optimised code, no tier-0 pass (docs/merging.md)
        private static long CountWindow<TLanes>(ref byte xr, ref byte br, int n, uint[] window, uint first, Span<ulong> pending = default) where TLanes : struct, IFloatLanes
        {
            bool mark = !pending.IsEmpty;
            const uint size = (uint)Span << 16;
            Vector256<uint> from = Vector256.Create(first), end = Vector256.Create(first + size), inside = Vector256.Create(size);
            Vector256<uint> magnitude = Vector256.Create(0x7FFF_FFFFu), above = Vector256<uint>.Zero;
            int i = 0;
            long wide = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                // Sixteen keys at a time where the CPU has AVX-512 (integer counts: the same at any width).
                Vector512<uint> fromW = Vector512.Create(first), endW = Vector512.Create(first + size), insideW = Vector512.Create(size);
                Vector512<uint> magnitudeW = Vector512.Create(0x7FFF_FFFFu), aboveW = Vector512<uint>.Zero;
                for (; i <= n - 16; i += 16)
                {
                    Vector512<uint> key = (TLanes.Load512(ref xr, (nuint)i) - TLanes.Load512(ref br, (nuint)i)).AsUInt32() & magnitudeW;
                    aboveW -= Vector512.GreaterThanOrEqual(key, endW);
                    Vector512<uint> offset = key - fromW;
                    ulong inWindow = Vector512.LessThan(offset, insideW).ExtractMostSignificantBits();
                    if (mark) pending[i >> 6] |= inWindow << (i & 63);
                    for (; inWindow != 0; inWindow &= inWindow - 1)
                        window[offset.GetElement(BitOperations.TrailingZeroCount(inWindow))]++;
                }
                wide = Vector512.Sum(aboveW);
            }
            for (; i < n; i += Vector256<float>.Count)
            {
                Vector256<uint> key = (TLanes.Load(ref xr, (nuint)i) - TLanes.Load(ref br, (nuint)i)).AsUInt32() & magnitude;
                above -= Vector256.GreaterThanOrEqual(key, end); // a true lane is all ones: −1
                Vector256<uint> offset = key - from;              // keys below the window wrap to large offsets
                // At most 2^32 − 1 keys per window bin: the window opens only on tensors of fewer elements.
                uint inWindow = Vector256.LessThan(offset, inside).ExtractMostSignificantBits();
                if (mark) pending[i >> 6] |= (ulong)inWindow << (i & 63);
                for (; inWindow != 0; inWindow &= inWindow - 1)
                    window[offset.GetElement(BitOperations.TrailingZeroCount(inWindow))]++;
            }
            return wide + Vector256.Sum(above); // at most a slice's keys
        }

        private static uint Key(float x, float b) => BitConverter.SingleToUInt32Bits(x - b) & 0x7FFF_FFFFu;

        public void EndPass()
        {
            if (RemainingPasses == 0) return;
            long[] counts = _counts ??= Rent<long>(1 << 16);
            if (_oneRead)
            {
                // The sample's histogram placed the window; from here every key is counted against it (CountSlice).
                if (_window is null) throw new InvalidOperationException("a one-read selection's first pass ends after its sample");
                ArrayPool<long>.Shared.Return(counts);
                _counts = null;
                return;
            }
            if (_window is not null)
            {
                uint[] window = _window;
                _window = null;
                bool found = FindInWindow(counts, window, out int digit, out long seen);
                if (found)
                {
                    // The answer's top digit is in the window: the low digits after the sample are counted already.
                    _rank -= seen;
                    _prefix = (uint)digit;
                    _level = 1;
                    int offset = (digit - _low) << 16;
                    for (int low = 0; low < 0x10000; low++) counts[low] = window[offset + low];
                    Limit = _sampleEnd;
                }
                else
                {
                    // The estimate missed: count the top digit again, over the whole tensor.
                    Array.Clear(counts, 0, 1 << 16);
                    _recount = true;
                }
                ArrayPool<uint>.Shared.Return(window);
                return;
            }
            {
                long seen = 0;
                int digit = 0xFFFF;
                for (; digit > 0; digit--)
                {
                    if (seen + counts[digit] >= _rank) break;
                    seen += counts[digit];
                }
                _rank -= seen;
                _prefix = (_prefix << 16) | (uint)digit;
            }
            _level++;
            Limit = _elements;
            if (RemainingPasses == 0)
            {
                ArrayPool<long>.Shared.Return(counts);
                _counts = null;
                return;
            }
            Array.Clear(counts, 0, 1 << 16);
        }

        /// <summary>
        /// The answer's top digit from the sample's histogram and the window's counts of the rest, if it lies in
        /// the window; <paramref name="seen"/>: the keys above that digit.
        /// </summary>
        private bool FindInWindow(long[] sample, uint[] window, out int digit, out long seen)
        {
            int high = _low + Span - 1;
            seen = _above;
            for (int d = 0xFFFF; d > high; d--) seen += sample[d];
            for (digit = high; digit >= _low; digit--)
            {
                long inBin = sample[digit];
                int offset = (digit - _low) << 16;
                for (int low = 0; low < 0x10000; low++) inBin += window[offset + low];
                if (seen >= _rank) return false;
                if (seen + inBin >= _rank) return true;
                seen += inBin;
            }
            return false;
        }
    }
}
