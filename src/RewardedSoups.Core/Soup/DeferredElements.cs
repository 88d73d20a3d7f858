using RewardedSoups.Checkpoints;

namespace RewardedSoups.Soup;

/// <summary>
/// Elements of one tensor whose merge waits for statistics a one-read merge finds only at the tensor's end (TIES: the
/// elements whose magnitude lies in its selection's window): their positions and their values in every input and the
/// base, as float32, gathered while the tensor is read once (in pinned arrays sized for <see cref="Limit"/>). <see cref="StreamingMerge"/> then merges them as slices
/// of their own (<see cref="Slice"/>) and puts each result at its position. A worker keeps one and reuses its arrays
/// from tensor to tensor; it holds at most <see cref="Limit"/> elements, after which it only notes that it overflowed.
/// </summary>
public sealed class DeferredElements
{
    private long[] _index = [];
    private float[][] _inputs = [];
    private float[] _base = [];
    private readonly Gathered _slices;

    public DeferredElements() => _slices = new Gathered(this);

    /// <summary>Elements gathered.</summary>
    public int Count { get; private set; }

    /// <summary>The most elements it gathers before it gives up (<see cref="Overflowed"/>).</summary>
    public int Limit { get; private set; }

    /// <summary>True once more elements were offered than <see cref="Limit"/>: the tensor must then be merged again in full.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Positions in the tensor, in the order gathered.</summary>
    public ReadOnlySpan<long> Indices => _index.AsSpan(0, Count);

    /// <summary>Empties it for a tensor of <paramref name="inputs"/> inputs that may gather up to <paramref name="limit"/> elements.</summary>
    public void Reset(int inputs, int limit)
    {
        Count = 0;
        Limit = limit;
        Overflowed = false;
        if (_inputs.Length == inputs && _index.Length >= limit) return;
        // Room for the limit at once, in pinned huge-page-backed arrays: pages are touched only as elements are gathered,
        // and a handful of 2 MiB faults replace thousands of 4 KiB ones (PinnedBuffers).
        int capacity = Math.Max(limit, _index.Length);
        _index = PinnedBuffers.Allocate<long>(capacity);
        _base = PinnedBuffers.Allocate<float>(capacity);
        _inputs = Enumerable.Range(0, inputs).Select(_ => PinnedBuffers.Allocate<float>(capacity)).ToArray();
    }

    /// <summary>
    /// Appends the elements <paramref name="start"/> + i of the tensor for each bit i set in <paramref name="pending"/>
    /// (word i / 64), and returns where they begin; their values are then set with <see cref="Values"/>. Returns −1, and
    /// gathers nothing more for this tensor, where they would pass <see cref="Limit"/>.
    /// </summary>
    public int Add(ReadOnlySpan<ulong> pending, long start)
    {
        if (Overflowed) return -1;
        long added = 0;
        foreach (ulong word in pending) added += System.Numerics.BitOperations.PopCount(word);
        if (Count + added > Limit)
        {
            Overflowed = true;
            return -1;
        }
        int from = Count, size = Count + (int)added;
        int j = from;
        for (int w = 0; w < pending.Length; w++)
            for (ulong bits = pending[w]; bits != 0; bits &= bits - 1)
                _index[j++] = start + w * 64 + System.Numerics.BitOperations.TrailingZeroCount(bits);
        Count = size;
        return from;
    }

    /// <summary>
    /// Where the values of input <paramref name="k"/> (or the base, for k = the input count) of the elements appended from
    /// <paramref name="from"/> on go: <paramref name="count"/> floats.
    /// </summary>
    public Span<float> Values(int k, int from, int count) => (k == _inputs.Length ? _base : _inputs[k]).AsSpan(from, count);

    /// <summary>Gathered elements <paramref name="from"/> … from + count − 1, as a slice set (its <see cref="SliceSet{T}.Start"/> means nothing).</summary>
    public SliceSet<float> Slice(int from, int count) => _slices.At(from, count);

    private sealed class Gathered(DeferredElements owner) : SliceSet<float>
    {
        public override int InputCount => owner._inputs.Length;

        public Gathered At(int from, int count)
        {
            if (from < 0 || count < 0 || from + count > owner.Count) throw new ArgumentOutOfRangeException(nameof(count));
            Start = from;
            Count = count;
            return this;
        }

        public override ReadOnlySpan<float> Input(int k) => owner._inputs[k].AsSpan((int)Start, Count);

        public override ReadOnlySpan<float> Base() => owner._base.AsSpan((int)Start, Count);
    }
}
