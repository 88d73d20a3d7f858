using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>What to merge, how, and where to.</summary>
/// <param name="Inputs">Checkpoints: <c>.safetensors</c> files or Hugging Face folders (single or sharded).</param>
/// <param name="Weights">One weight per input, checked where they entered; null means uniform (on the simplex).</param>
/// <param name="Output">A <c>.safetensors</c> file, or a folder for a Hugging Face layout.</param>
/// <param name="OutputDType">Dtype of the floating tensors written; null keeps the inputs'.</param>
/// <param name="MaxShardBytes">Shard a folder output into files of at most this many tensor bytes.</param>
/// <param name="Overwrite">Replace an existing, non-empty output folder.</param>
/// <param name="Threads">Worker threads; 0 means one per core.</param>
/// <param name="Method">The merge method; null is <see cref="MergeMethods.Linear"/>.</param>
/// <param name="Parameters">The method's parameters (a record of its <see cref="IMergeMethod.DefaultParameters"/>' type); null: the defaults.</param>
/// <param name="Base">The shared init θ₀, for task-vector methods (<see cref="IMergeMethod.NeedsBase"/>).</param>
/// <param name="OneReadMemory">Bytes the workers may hold at once for tensors merged in one read (<see cref="StreamingMerge.OneReadBytes"/>: held outputs and deferred elements); null: <see cref="StreamingMerge.OneReadMemory"/>; 0: every tensor takes a statistics pass, then its merge pass (the same bytes; tests compare them).</param>
public sealed record SoupRequest(
    IReadOnlyList<string> Inputs,
    SoupWeights? Weights,
    string Output,
    DType? OutputDType = null,
    long? MaxShardBytes = null,
    bool Overwrite = false,
    int Threads = 0,
    IMergeMethod? Method = null,
    ISettingsSection? Parameters = null,
    string? Base = null,
    IReadOnlyDictionary<string, string>? Metadata = null,
    IReadOnlyDictionary<string, byte[]>? SideFiles = null,
    long? OneReadMemory = null);

/// <summary>What a merge wrote.</summary>
public sealed record SoupResult(string Output, IReadOnlyList<string> Shards, int Tensors, long DataBytes, SoupWeights Weights, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Runs any <see cref="IMergeMethod"/> over checkpoint files, streaming. Tensors are cut into batches of
/// slices; each worker takes a batch, reads a slice of every input (and the base) with positional reads,
/// lets the method's <see cref="TensorMerge"/> compute it in float32 (float64 for F64 inputs), rounds once
/// into the batch's output buffer, and writes the batch positionally into the output. Tensors whose method
/// needs statistics (a magnitude threshold, an angle) are first read whole, slice by slice, by one worker
/// each. Memory is a few slice buffers per worker, whatever the model size. Non-floating tensors (step
/// counters, index buffers) are compared across inputs and copied. The output is written atomically.
/// </summary>
public static class StreamingMerge
{
    /// <summary>
    /// Elements computed at a time: 32 Ki, so that what the read syscall copies (128 KiB of F32 per
    /// input), the widening, the accumulation and the rounding all stay in the L2 cache. Measured on
    /// 3 × 1 GiB BF16 written to tmpfs: 1.4 s at this size, 2.2–2.8 s with 4 MiB slices (docs/merging.md).
    /// </summary>
    public const int SliceElements = 32 * 1024;

    /// <summary>
    /// Slices per unit of work, written with one positional write: concurrent writes to one file
    /// contend for its inode lock (the kernel spins on it: 10% of a profile with one write per slice).
    /// </summary>
    public const int SlicesPerBatch = 16;

    /// <summary>
    /// Output bytes up to which a tensor whose merge can run in one read (<see cref="TensorMerge.TryMergeInOneRead"/>:
    /// TIES) is merged that way: its worker holds the tensor's output until its statistics are complete, instead of
    /// reading every input twice. Larger tensors take the two reads, in flat memory. 32 MiB holds a 4096 × 4096 BF16
    /// weight; a merge's memory grows by at most this, and the deferred elements, per worker (docs/merging.md, "One read").
    /// </summary>
    public const long OneReadBytes = 32L << 20;

    /// <summary>
    /// What all workers together may hold for tensors merged in one read, whatever their number: a worker that finds
    /// this budget taken merges its tensor in two reads instead (the same bytes). 256 MiB: four tensors of 32 MiB with
    /// their deferred elements, so two workers never wait, and 64 do not hold 4 GiB.
    /// </summary>
    public const long OneReadMemory = 256L << 20;

    public static SoupResult Merge(SoupRequest request, IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        IMergeMethod method = request.Method ?? MergeMethods.Linear;
        ISettingsSection parameters = request.Parameters ?? method.DefaultParameters;
        SoupWeights weights = CheckRequest(method, parameters, request.Inputs.Count, request.Weights, request.Base);
        if (request.OutputDType is DType forced && !forced.IsFloat())
            throw new SoupInputException($"output dtype {forced.Name()} is not a floating dtype; soups are written as F32, F16, BF16, F64 or F8");

        var inputs = new List<Checkpoint>();
        Checkpoint? baseModel = null;
        try
        {
            foreach (string path in request.Inputs) inputs.Add(Checkpoint.Open(path));
            if (request.Base is not null) baseModel = Checkpoint.Open(request.Base);
            CheckCompatible(inputs);
            if (baseModel is not null) CheckCompatible([inputs[0], baseModel], "the base");
            Checkpoint first = inputs[0];
            var specs = first.Tensors
                .Select(t => new TensorSpec(t.Name, t.DType.IsFloat() ? request.OutputDType ?? t.DType : t.DType, t.Shape))
                .ToArray();
            MergeKernel kernel = method.CreateKernel(weights, parameters);
            Dictionary<string, string> metadata = OutputMetadata(inputs, baseModel, weights, method, parameters, request);
            using var writer = new CheckpointWriter(request.Output, specs, metadata, request.MaxShardBytes, request.Overwrite);
            var plan = new Plan(inputs, baseModel, kernel, specs, request.OneReadMemory ?? OneReadMemory);
            int threads = request.Threads > 0 ? request.Threads : Environment.ProcessorCount;
            plan.Run(writer, threads, progress, cancel);
            if (writer.IsFolder)
                foreach ((string name, byte[] content) in request.SideFiles ?? new Dictionary<string, byte[]>()) writer.AddFile(name, content);
            writer.Commit();
            return new SoupResult(Path.GetFullPath(request.Output), writer.ShardNames.Count == 1 ? [Path.GetFullPath(request.Output)] : writer.ShardNames,
                specs.Length, specs.Sum(s => s.ByteLength), weights, metadata);
        }
        finally
        {
            foreach (Checkpoint c in inputs) c.Dispose();
            baseModel?.Dispose();
        }
    }

    /// <summary>
    /// Checks what a merge is asked before any file is opened: the method's input count and base, its
    /// parameters (type and rules), one weight per input. Returns the weights (uniform when none are given).
    /// </summary>
    public static SoupWeights CheckRequest(IMergeMethod method, ISettingsSection parameters, int inputs, SoupWeights? weights, string? basePath)
    {
        if (inputs == 0) throw new SoupInputException("no input checkpoints given");
        if (method.Inputs is int exact && inputs != exact)
            throw new SoupInputException($"method {method.Name} merges exactly {exact} models, got {inputs}");
        if (method.NeedsBase && basePath is null)
            throw new SoupInputException($"method {method.Name} merges task vectors θᵢ − θ₀ and needs the shared init θ₀ as the base (--base)");
        if (!method.NeedsBase && basePath is not null)
            throw new SoupInputException($"method {method.Name} takes no base (task-vector methods do: {string.Join(", ", MergeMethods.All.Where(m => m.NeedsBase).Select(m => m.Name))})");
        if (parameters.GetType() != method.DefaultParameters.GetType())
            throw new ArgumentException($"method {method.Name} takes {method.DefaultParameters.GetType().Name}, not {parameters.GetType().Name}", nameof(parameters));
        SettingsSection.Validate(parameters, method.Name);
        return weights?.For(inputs) ?? SoupWeights.Uniform(inputs);
    }

    /// <summary>Same names, shapes and dtypes everywhere; a difference names the tensor and both files.</summary>
    public static void CheckCompatible(IReadOnlyList<Checkpoint> inputs, string? what = null)
    {
        Checkpoint a = inputs[0];
        for (int k = 1; k < inputs.Count; k++)
        {
            Checkpoint b = inputs[k];
            string bName = what is null ? b.Path : $"{what} {b.Path}";
            foreach (CheckpointTensor ta in a.Tensors)
            {
                if (!b.TryGet(ta.Name, out CheckpointTensor tb))
                    throw new SoupInputException($"tensor {Printable.Quote(ta.Name)} is in {a.Path} but not in {bName}");
                if (!ta.Shape.AsSpan().SequenceEqual(tb.Shape))
                    throw new SoupInputException($"tensor {Printable.Quote(ta.Name)}: shape {ta.Info.ShapeText} in {a.Path} but {tb.Info.ShapeText} in {bName}");
                if (ta.DType != tb.DType)
                    throw new SoupInputException($"tensor {Printable.Quote(ta.Name)}: dtype {ta.DType.Name()} in {a.Path} but {tb.DType.Name()} in {bName}");
            }
            if (b.Tensors.Count != a.Tensors.Count)
            {
                CheckpointTensor extra = b.Tensors.First(t => !a.TryGet(t.Name, out _));
                throw new SoupInputException($"tensor {Printable.Quote(extra.Name)} is in {bName} but not in {a.Path}");
            }
        }
    }

    /// <summary>
    /// Metadata shared by every input (e.g. <c>format: pt</c>, which transformers requires), then what
    /// this soup is: method, parameters, weights, inputs and base with their header hashes, dtype, extrapolation.
    /// </summary>
    private static Dictionary<string, string> OutputMetadata(IReadOnlyList<Checkpoint> inputs, Checkpoint? baseModel, SoupWeights weights,
        IMergeMethod method, ISettingsSection parameters, SoupRequest request)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string key, string value) in inputs[0].Metadata)
        {
            if (key.StartsWith("soup.", StringComparison.Ordinal)) continue;
            if (inputs.All(c => c.Metadata.TryGetValue(key, out string? v) && v == value)) metadata[key] = value;
        }
        metadata.TryAdd("format", "pt");
        metadata["soup.method"] = method.Name;
        MergeMethods.Describe(method, parameters, metadata);
        metadata["soup.weights"] = weights.ToString();
        metadata["soup.inputs"] = JsonSerializer.Serialize(
            inputs.Select(c => new Dictionary<string, string> { ["path"] = c.Path, ["header_sha256"] = c.HeaderSha256 }));
        if (baseModel is not null)
            metadata["soup.base"] = JsonSerializer.Serialize(new Dictionary<string, string> { ["path"] = baseModel.Path, ["header_sha256"] = baseModel.HeaderSha256 });
        metadata["soup.allow_extrapolation"] = weights.AllowsExtrapolation ? "true" : "false";
        metadata["soup.extrapolated"] = weights.Extrapolates ? "true" : "false";
        metadata["soup.accumulation"] = inputs[0].Tensors.Any(t => t.DType == DType.F64) ? "F32, F64 for F64 tensors" : "F32";
        if (request.OutputDType is DType d) metadata["soup.dtype"] = d.Name();
        foreach ((string key, string value) in request.Metadata ?? new Dictionary<string, string>()) metadata[key] = value;
        return metadata;
    }

    /// <summary>A unit of work: <c>Count</c> elements of tensor <c>Tensor</c> from <c>Start</c>, written with one write.</summary>
    private readonly record struct Batch(int Tensor, long Start, int Count);

    /// <summary>
    /// Runs <paramref name="items"/> units of work on a fixed set of workers, each with its own state,
    /// pulling from a shared counter (not Parallel.ForEach: it re-creates its tasks, and their local
    /// buffers, as it rebalances). The first failure stops the other workers and is rethrown as it was.
    /// </summary>
    private static void RunWorkers<TState>(int items, int threads, Func<TState> state, Action<int, TState> work, CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        int next = -1;
        Exception? failure = null;
        void Work()
        {
            try
            {
                TState mine = state();
                int i;
                while ((i = Interlocked.Increment(ref next)) < items)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    work(i, mine);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopped by the caller or by another worker's failure: reported below.
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                stop.Cancel();
            }
        }
        var workers = new Thread[Math.Max(1, Math.Min(threads, items))];
        for (int t = 1; t < workers.Length; t++)
        {
            workers[t] = new Thread(Work) { IsBackground = true, Name = $"soup-worker-{t}" };
            workers[t].Start();
        }
        Work(); // the calling thread is worker 0
        for (int t = 1; t < workers.Length; t++) workers[t].Join();
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        cancel.ThrowIfCancellationRequested();
    }

    /// <summary>Per-worker buffers: raw bytes and widened values of each source's slice, the result, and a batch of output; each allocated on first use.</summary>
    private sealed class Buffers
    {
        public Buffers(int sources)
        {
            Single = new FileSlices<float>(this, sources);
            Double = new FileSlices<double>(this, sources);
            _raw = new byte[sources][];
            _wide = new byte[sources][];
        }

        private readonly byte[]?[] _raw, _wide;
        private byte[]? _result, _batch;

        public FileSlices<float> Single { get; }

        public FileSlices<double> Double { get; }

        /// <summary>Raw bytes of a slice of source <paramref name="k"/>; room for 8-byte elements.</summary>
        public Span<byte> Raw(int k, int bytes) => (_raw[k] ??= GC.AllocateUninitializedArray<byte>(SliceElements * 8)).AsSpan(0, bytes);

        /// <summary>Source <paramref name="k"/>'s slice widened to <typeparamref name="T"/>.</summary>
        public Span<T> Wide<T>(int k, int n) where T : unmanaged => MemoryMarshal.Cast<byte, T>((_wide[k] ??= GC.AllocateUninitializedArray<byte>(SliceElements * 8)).AsSpan())[..n];

        /// <summary>The merged slice before rounding.</summary>
        public Span<T> Result<T>(int n) where T : unmanaged => MemoryMarshal.Cast<byte, T>((_result ??= GC.AllocateUninitializedArray<byte>(SliceElements * 8)).AsSpan())[..n];

        /// <summary>Output bytes of a whole batch.</summary>
        public Span<byte> Batch(int bytes) => (_batch ??= GC.AllocateUninitializedArray<byte>(SliceElements * SlicesPerBatch * 8)).AsSpan(0, bytes);
    }

    /// <summary>What a worker holds while it merges a tensor in one read: the tensor's output and its deferred elements.</summary>
    private sealed class OneReadBuffers
    {
        private byte[]? _held;

        /// <summary>The gathered elements of a tensor merged in one read.</summary>
        public DeferredElements Deferred { get; } = new();

        /// <summary>
        /// The whole output of a tensor merged in one read: <paramref name="bytes"/> of a pinned array from an offset whose
        /// address has the tensor's place in the file's remainder (<paramref name="remainder"/>), so that its write needs no copy.
        /// </summary>
        public ArraySegment<byte> Held(int bytes, int remainder)
        {
            const int alignment = DirectWrites.Alignment;
            byte[] held = _held is { } h && h.Length >= bytes + alignment ? h : _held = PinnedBuffers.Allocate<byte>(bytes + alignment);
            int offset = (int)(((remainder - PinnedBuffers.Address(held, 0)) % alignment + alignment) % alignment);
            return new ArraySegment<byte>(held, offset, bytes);
        }

    }

    /// <summary>
    /// The <see cref="OneReadBuffers"/> of a merge: at most <c>slots</c> of them, made on demand and reused, so that the
    /// memory held for one-read merges stays within the budget however many workers run.
    /// </summary>
    private sealed class OneReadPool(int slots)
    {
        private readonly System.Collections.Concurrent.ConcurrentBag<OneReadBuffers> _free = [];
        private int _made;

        /// <summary>A free set of buffers, or null when the budget's sets are all in use.</summary>
        public OneReadBuffers? TryTake()
        {
            if (_free.TryTake(out OneReadBuffers? buffers)) return buffers;
            if (Interlocked.Increment(ref _made) <= slots) return new OneReadBuffers();
            Interlocked.Decrement(ref _made);
            return null;
        }

        public void Return(OneReadBuffers buffers) => _free.Add(buffers);
    }

    /// <summary>
    /// A slice of every source read from the files on demand: inputs 0 … N−1, the base as source N. A source's bytes
    /// are read once per slice; they are widened (into a float32 or float64 copy) only for a kernel that asks for
    /// <see cref="Input"/> rather than <see cref="SliceSet{T}.StoredInput"/>.
    /// </summary>
    private sealed class FileSlices<T>(Buffers buffers, int sources) : SliceSet<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly bool[] _read = new bool[sources], _widened = new bool[sources];
        private CheckpointTensor[] _tensors = [];
        private int _inputs;

        public override int InputCount => _inputs;

        /// <summary>Points the set at a new slice; nothing is read yet.</summary>
        public FileSlices<T> At(CheckpointTensor[] tensors, int inputs, long start, int count)
        {
            _tensors = tensors;
            _inputs = inputs;
            Start = start;
            Count = count;
            Array.Clear(_read);
            Array.Clear(_widened);
            return this;
        }

        public override ReadOnlySpan<T> Input(int k) => (uint)k < (uint)_inputs ? Source(k) : throw new ArgumentOutOfRangeException(nameof(k));

        public override ReadOnlySpan<T> Base() => HasBase ? Source(_inputs) : throw new InvalidOperationException("this merge has no base");

        public override StoredFloats StoredInput(int k) => (uint)k < (uint)_inputs ? Stored(k) : throw new ArgumentOutOfRangeException(nameof(k));

        public override StoredFloats StoredBase() => HasBase ? Stored(_inputs) : throw new InvalidOperationException("this merge has no base");

        private bool HasBase => _tensors.Length > _inputs;

        /// <summary>Source <paramref name="k"/>'s bytes, read from its file on first use.</summary>
        private Span<byte> Raw(int k)
        {
            int size = _tensors[k].DType.Size();
            Span<byte> raw = buffers.Raw(k, Count * size);
            if (_read[k]) return raw;
            _tensors[k].File.Read(_tensors[k].Info, Start * size, raw);
            _read[k] = true;
            return raw;
        }

        private StoredFloats Stored(int k)
        {
            DType dtype = _tensors[k].DType;
            if (typeof(T) != typeof(float)) throw new NotSupportedException("stored slices are for float32 merges");
            return dtype is DType.F32 or DType.BF16 ? new StoredFloats(Raw(k), dtype == DType.BF16) : new StoredFloats(MemoryMarshal.Cast<T, float>(Source(k)));
        }

        private ReadOnlySpan<T> Source(int k)
        {
            DType dtype = _tensors[k].DType;
            Span<byte> raw = Raw(k);
            bool exact = (typeof(T) == typeof(float) && dtype == DType.F32) || (typeof(T) == typeof(double) && dtype == DType.F64);
            if (exact) return MemoryMarshal.Cast<byte, T>(raw); // no copy: the bytes are the values
            Span<T> wide = buffers.Wide<T>(k, Count);
            if (_widened[k]) return wide;
            if (typeof(T) == typeof(float)) ElementConversion.ToSingle(dtype, raw, MemoryMarshal.Cast<T, float>(wide));
            else ElementConversion.ToDouble(dtype, raw, MemoryMarshal.Cast<T, double>(wide));
            _widened[k] = true;
            return wide;
        }
    }

    private sealed class Plan
    {
        private readonly IReadOnlyList<Checkpoint> _inputs;
        private readonly TensorSpec[] _specs;
        private readonly CheckpointTensor[][] _tensors; // [tensor][source]: the inputs, then the base
        private readonly TensorMerge?[] _merges;        // [tensor], null for non-floating tensors
        private readonly bool[] _oneRead;               // [tensor]: merged in one read, whole, by one worker
        private readonly MergeKernel _kernel;
        private readonly int _inputCount, _sources;

        public Plan(IReadOnlyList<Checkpoint> inputs, Checkpoint? baseModel, MergeKernel kernel, TensorSpec[] specs, long oneReadMemory)
        {
            _kernel = kernel;
            _inputs = inputs;
            _specs = specs;
            _inputCount = inputs.Count;
            IEnumerable<Checkpoint> sources = baseModel is null ? inputs : inputs.Append(baseModel);
            _tensors = specs.Select(s => sources.Select(c => c.TryGet(s.Name, out CheckpointTensor t) ? t : throw new InvalidOperationException()).ToArray()).ToArray();
            _sources = _tensors.Length > 0 ? _tensors[0].Length : inputs.Count;
            _merges = _tensors.Select(t => t[0].DType.IsFloat() ? kernel.ForTensor(t[0].Name, t[0].DType, t[0].Info.ElementCount) : null).ToArray();
            _oneRead = _merges.Select((m, t) => oneReadMemory > 0 && m is not null && m.CopiesInput < 0 && !ElementConversion.AccumulatesInDouble(_tensors[t][0].DType)
                && specs[t].ByteLength <= OneReadBytes && m.TryMergeInOneRead()).ToArray();
            // A set of one-read buffers holds the largest such tensor's output and its deferred elements at their limit.
            long perSet = Enumerable.Range(0, specs.Length).Where(t => _oneRead[t])
                .Select(t => specs[t].ByteLength + DirectWrites.Alignment + _tensors[t][0].Info.ElementCount / DeferredShare * (8 + 4L * (_inputCount + 1)))
                .DefaultIfEmpty(0).Max();
            int slots = perSet == 0 ? 0 : (int)Math.Min(int.MaxValue, oneReadMemory / perSet);
            if (slots == 0)
            {
                // Not even one tensor fits the budget: every tensor takes two reads, with merges that never began one.
                for (int t = 0; t < specs.Length; t++)
                {
                    if (!_oneRead[t]) continue;
                    _merges[t] = kernel.ForTensor(_tensors[t][0].Name, _tensors[t][0].DType, _tensors[t][0].Info.ElementCount);
                    _oneRead[t] = false;
                }
            }
            _pool = new OneReadPool(slots);
        }

        private readonly OneReadPool _pool;

        /// <summary>
        /// Runs the statistics passes, then the merge. <paramref name="progress"/> counts output bytes, the
        /// statistics passes included: a pass over a tensor is worth that tensor's output bytes, the whole
        /// scaled so that the total stays the output's size (a ties merge's bar moves during its two
        /// histogram passes instead of sitting at 0 for two thirds of the time).
        /// </summary>
        public void Run(CheckpointWriter writer, int threads, IProgress<long>? progress, CancellationToken cancel)
        {
            long OutBytes(int t) => _specs[t].ByteLength;
            long outputBytes = Enumerable.Range(0, _specs.Length).Sum(OutBytes);
            long work = Enumerable.Range(0, _specs.Length).Sum(t => OutBytes(t) * (1L + (_merges[t]?.StatisticsPasses ?? 0)));
            long done = 0;
            void Advance(long units)
            {
                long now = Interlocked.Add(ref done, units);
                progress?.Report(now >= work ? outputBytes : (long)((double)now / work * outputBytes));
            }
            // Statistics first, a tensor per worker, largest first so that the last to finish is small; a tensor merged in
            // one read is merged whole in this phase, by its worker.
            int[] observed = Enumerable.Range(0, _specs.Length).Where(t => _merges[t]?.StatisticsPasses > 0)
                .OrderByDescending(t => _tensors[t][0].Info.ElementCount).ToArray();
            RunWorkers(observed.Length, threads, () => new Buffers(_sources), (i, b) =>
            {
                int t = observed[i];
                if (!_oneRead[t])
                {
                    Observe(t, _merges[t]!, b, () => Advance(OutBytes(t)), cancel);
                    return;
                }
                OneReadBuffers? held = _pool.TryTake();
                if (held is null)
                {
                    MergeTwoReads(t, b, writer, cancel); // the budget's buffers are all in use
                    Advance(2 * OutBytes(t));
                    return;
                }
                try
                {
                    MergeWhole(t, b, held, writer, () => Advance(OutBytes(t)), cancel);
                }
                finally
                {
                    _pool.Return(held);
                }
            }, cancel);
            Batch[] batches = Batches().ToArray();
            RunWorkers(batches.Length, threads, () => new Buffers(_sources), (i, b) => Advance(Merge(batches[i], b, writer)), cancel);
        }

        private IEnumerable<Batch> Batches() => Enumerable.Range(0, _specs.Length).Where(t => !_oneRead[t]).SelectMany(BatchesOf);

        private IEnumerable<Batch> BatchesOf(int t)
        {
            const int per = SliceElements * SlicesPerBatch;
            long elements = _tensors[t][0].Info.ElementCount;
            for (long start = 0; start < elements; start += per)
                yield return new Batch(t, start, (int)Math.Min(per, elements - start));
        }

        /// <summary>
        /// A tensor planned for one read, merged in two by this worker instead (the one-read budget was in use): a new merge
        /// runs its statistics passes, then every batch.
        /// </summary>
        private void MergeTwoReads(int tensor, Buffers b, CheckpointWriter writer, CancellationToken cancel)
        {
            CheckpointTensor source = _tensors[tensor][0];
            TensorMerge merge = _kernel.ForTensor(source.Name, source.DType, source.Info.ElementCount);
            Observe(tensor, merge, b, () => { }, cancel);
            foreach (Batch batch in BatchesOf(tensor))
            {
                cancel.ThrowIfCancellationRequested();
                Merge(batch, b, writer, merge);
            }
        }

        /// <summary>
        /// Merges a whole tensor in one read (<see cref="TensorMerge.TryMergeInOneRead"/>) into the worker's held output:
        /// the sample pass, then every slice merged while counted, then the deferred elements merged and put in place
        /// (or, where the merge asks, every slice again, or the whole tensor the usual way), and writes it.
        /// </summary>
        private void MergeWhole(int tensor, Buffers b, OneReadBuffers one, CheckpointWriter writer, Action passDone, CancellationToken cancel)
        {
            TensorMerge merge = _merges[tensor]!;
            CheckpointTensor[] sources = _tensors[tensor];
            long elements = sources[0].Info.ElementCount;
            DType outType = _specs[tensor].DType;
            int size = outType.Size();
            ArraySegment<byte> heldBytes = one.Held(checked((int)_specs[tensor].ByteLength), writer.Remainder(tensor));
            Span<byte> held = heldBytes;
            Observe(tensor, merge, b, passDone, cancel);
            DeferredElements deferred = one.Deferred;
            deferred.Reset(_inputCount, (int)Math.Min(int.MaxValue, elements / DeferredShare));
            MergeSlices(tensor, b, held, (slices, result) => merge.MergeCounting(slices, result, deferred), cancel);
            switch (merge.EndOneRead(deferred))
            {
                case OneReadEnd.Done:
                    break;
                case OneReadEnd.MergeDeferred:
                    for (int from = 0; from < deferred.Count; from += SliceElements)
                    {
                        int n = Math.Min(SliceElements, deferred.Count - from);
                        Span<float> result = b.Result<float>(n);
                        merge.Merge(deferred.Slice(from, n), result);
                        Span<byte> rounded = b.Batch(n * size);
                        ElementConversion.FromSingle(outType, result, rounded);
                        Scatter(rounded, deferred.Indices.Slice(from, n), held, size);
                    }
                    break;
                case OneReadEnd.MergeAgain:
                    MergeSlices(tensor, b, held, merge.Merge, cancel);
                    break;
                default:
                    TensorMerge again = _kernel.ForTensor(sources[0].Name, sources[0].DType, elements);
                    Observe(tensor, again, b, () => { }, cancel);
                    MergeSlices(tensor, b, held, again.Merge, cancel);
                    break;
            }
            writer.WritePinned(tensor, heldBytes.Array!, heldBytes.Offset, heldBytes.Count);
            passDone();
        }

        /// <summary>At most one element in this many of a tensor merged in one read is deferred; past that share, the tensor is merged again in full.</summary>
        private const int DeferredShare = 16;

        /// <summary>Puts each rounded element of <paramref name="rounded"/> at its position in <paramref name="held"/>.</summary>
        private static void Scatter(ReadOnlySpan<byte> rounded, ReadOnlySpan<long> indices, Span<byte> held, int size)
        {
            if (size == 2)
            {
                ReadOnlySpan<ushort> from = MemoryMarshal.Cast<byte, ushort>(rounded);
                Span<ushort> into = MemoryMarshal.Cast<byte, ushort>(held);
                for (int j = 0; j < indices.Length; j++) into[(int)indices[j]] = from[j];
            }
            else if (size == 4)
            {
                ReadOnlySpan<uint> from = MemoryMarshal.Cast<byte, uint>(rounded);
                Span<uint> into = MemoryMarshal.Cast<byte, uint>(held);
                for (int j = 0; j < indices.Length; j++) into[(int)indices[j]] = from[j];
            }
            else
            {
                for (int j = 0; j < indices.Length; j++) rounded.Slice(j * size, size).CopyTo(held[(int)(indices[j] * size)..]);
            }
        }

        /// <summary>How <see cref="MergeSlices"/> merges a slice of a float32 tensor.</summary>
        private delegate void SliceMerge(SliceSet<float> slices, Span<float> output);

        /// <summary>Every slice of a float32 tensor, in order, merged by <paramref name="merge"/> and rounded into <paramref name="held"/>.</summary>
        private void MergeSlices(int tensor, Buffers b, Span<byte> held, SliceMerge merge, CancellationToken cancel)
        {
            CheckpointTensor[] sources = _tensors[tensor];
            long elements = sources[0].Info.ElementCount;
            DType outType = _specs[tensor].DType;
            int size = outType.Size();
            for (long start = 0; start < elements; start += SliceElements)
            {
                cancel.ThrowIfCancellationRequested();
                int n = (int)Math.Min(SliceElements, elements - start);
                Span<float> result = b.Result<float>(n);
                merge(b.Single.At(sources, _inputCount, start, n), result);
                ElementConversion.FromSingle(outType, result, held.Slice((int)(start * size), n * size));
            }
        }

        private void Observe(int tensor, TensorMerge merge, Buffers b, Action passDone, CancellationToken cancel)
        {
            long elements = _tensors[tensor][0].Info.ElementCount;
            bool wide = ElementConversion.AccumulatesInDouble(_tensors[tensor][0].DType);
            for (int pass = 0; pass < merge.StatisticsPasses; pass++)
            {
                long end = Math.Min(elements, merge.PassElements(pass, elements));
                for (long start = 0; start < end; start += SliceElements)
                {
                    cancel.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(SliceElements, elements - start);
                    if (wide) merge.Observe(pass, b.Double.At(_tensors[tensor], _inputCount, start, n));
                    else merge.Observe(pass, b.Single.At(_tensors[tensor], _inputCount, start, n));
                }
                merge.EndPass(pass);
                passDone();
            }
        }

        /// <summary>Merges one batch slice by slice into the batch buffer, writes it; returns the output bytes written.</summary>
        private long Merge(Batch work, Buffers b, CheckpointWriter writer) => Merge(work, b, writer, _merges[work.Tensor]);

        private long Merge(Batch work, Buffers b, CheckpointWriter writer, TensorMerge? merge)
        {
            CheckpointTensor[] sources = _tensors[work.Tensor];
            DType inType = sources[0].DType;
            DType outType = _specs[work.Tensor].DType;
            Span<byte> batch = b.Batch(work.Count * outType.Size());   // [count × out size]
            if (merge is not null && merge.CopiesInput >= 0 && inType == outType)
            {
                // One-hot: the bytes of the chosen input, read and written whole (arithmetic would turn -0 into +0 and 0·inf into NaN).
                sources[merge.CopiesInput].File.Read(sources[merge.CopiesInput].Info, work.Start * inType.Size(), batch);
            }
            else
            {
                for (int done = 0; done < work.Count; done += SliceElements)
                {
                    int n = Math.Min(SliceElements, work.Count - done);
                    long start = work.Start + done;
                    Span<byte> output = batch.Slice(done * outType.Size(), n * outType.Size());
                    if (merge is null)
                    {
                        ReadEqual(sources, b, start, n).CopyTo(output);
                    }
                    else if (ElementConversion.AccumulatesInDouble(inType))
                    {
                        Span<double> result = b.Result<double>(n);
                        merge.Merge(b.Double.At(sources, _inputCount, start, n), result);
                        ElementConversion.FromDouble(outType, result, output);
                    }
                    else
                    {
                        Span<float> result = b.Result<float>(n);
                        merge.Merge(b.Single.At(sources, _inputCount, start, n), result);
                        ElementConversion.FromSingle(outType, result, output);
                    }
                }
            }
            writer.Write(work.Tensor, work.Start * outType.Size(), batch);
            return batch.Length;
        }

        /// <summary>Reads a slice of a non-floating tensor from every input and returns it, or throws where two differ.</summary>
        private Span<byte> ReadEqual(CheckpointTensor[] sources, Buffers b, long start, int n)
        {
            int size = sources[0].DType.Size();
            Span<byte> reference = b.Raw(0, n * size);
            sources[0].File.Read(sources[0].Info, start * size, reference);
            for (int k = 1; k < _inputCount; k++) // the base's (an init's step counter) need not agree: the inputs' are copied
            {
                Span<byte> other = b.Raw(k, n * size);
                sources[k].File.Read(sources[k].Info, start * size, other);
                int at = reference.CommonPrefixLength(other);
                if (at < reference.Length)
                {
                    string path = _inputs[k].Path;
                    throw new SoupInputException(string.Create(CultureInfo.InvariantCulture,
                        $"tensor '{sources[0].Name}' ({sources[0].DType.Name()}, not floating) differs between {_inputs[0].Path} and {path} at element {start + at / size}; non-floating tensors are copied, so they must be equal"));
                }
            }
            return reference;
        }
    }
}
