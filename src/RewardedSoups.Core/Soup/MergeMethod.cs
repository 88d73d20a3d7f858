using System.ComponentModel;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>
/// A way of merging checkpoints tensor by tensor: its name, its parameters (an <see cref="ISettingsSection"/>:
/// keys, defaults, ranges and rules in one record, read from a configuration or a command line like any
/// section) and a kernel that <see cref="StreamingMerge"/> runs on slices of every input. Adding a method is one class implementing this interface plus one
/// line in <see cref="MergeMethods.All"/> (docs/merging.md).
/// </summary>
public interface IMergeMethod
{
    /// <summary>The name users write (<c>--method</c>, <c>soups.methods</c>), mergekit's where mergekit has the method.</summary>
    string Name { get; }

    /// <summary>One line: what the method computes.</summary>
    string Summary { get; }

    /// <summary>Where the method comes from (paper).</summary>
    string Reference { get; }

    /// <summary>True for task-vector methods: they merge τᵢ = θᵢ − θ₀ and need the shared init θ₀ as the base.</summary>
    bool NeedsBase { get; }

    /// <summary>The exact number of inputs the method merges (slerp: 2), or null for any.</summary>
    int? Inputs { get; }

    /// <summary>A record of the method's parameters holding their defaults; its type is the one <see cref="MergeMethods.ReadParameters"/> binds.</summary>
    ISettingsSection DefaultParameters { get; }

    /// <summary>
    /// The revision of the method's rule: raised when a build writes other bytes for the same inputs and parameters
    /// (DARE's paired draws, 2026-12-04: 2). Above 1 it is written to a soup's metadata (<c>soup.method_revision</c>)
    /// and into experiment soup jobs' keys, so that a run made with an older rule makes those soups again instead of
    /// counting them done or reusing them.
    /// </summary>
    int Revision => 1;

    /// <summary>
    /// The kernel for one merge: <paramref name="weights"/> are λ (already checked: one per input, finite,
    /// on the simplex unless extrapolation was allowed), <paramref name="parameters"/> a checked record of
    /// <see cref="DefaultParameters"/>' type. A method that draws random numbers must draw the same for the same
    /// inputs in any order, on any number of threads.
    /// </summary>
    MergeKernel CreateKernel(SoupWeights weights, ISettingsSection parameters);
}

/// <summary>
/// A merge method's work on a whole model: for each tensor, a <see cref="TensorMerge"/>. Methods whose
/// tensors need no statistics return one shared object; the others one per tensor.
/// </summary>
public abstract class MergeKernel
{
    /// <summary>The merge of one tensor (<paramref name="name"/>, <paramref name="elements"/> elements of a floating dtype).</summary>
    public abstract TensorMerge ForTensor(string name, DType dtype, long elements);
}

/// <summary>
/// The merge of one tensor. <see cref="StatisticsPasses"/> reads of the whole tensor come first
/// (<see cref="Observe{T}"/> on each slice in order, then <see cref="EndPass"/>), for what a slice alone
/// cannot tell (TIES' magnitude threshold, SLERP's angle); then <see cref="Merge{T}"/> runs on slices in any
/// order and on any thread, so it must only read the state the passes left. Arithmetic is in float32, or
/// float64 for F64 tensors (the methods' type parameter); the driver rounds once into the output dtype.
/// </summary>
public abstract class TensorMerge
{
    /// <summary>Passes over the tensor before merging it (0: slices merge on their own).</summary>
    public virtual int StatisticsPasses => 0;

    /// <summary>The input whose bytes the merge reproduces exactly (one-hot weights), or -1: the driver then copies them.</summary>
    public virtual int CopiesInput => -1;

    /// <summary>
    /// How many elements, from the tensor's start, pass <paramref name="pass"/> reads (asked after the previous
    /// pass ended): all by default; fewer when the passes before left only the start of the tensor to look at.
    /// </summary>
    public virtual long PassElements(int pass, long elements) => elements;

    /// <summary>Pass <paramref name="pass"/> over one slice; slices come in order, from one thread.</summary>
    public virtual void Observe<T>(int pass, SliceSet<T> slices) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
    }

    /// <summary>After the last slice of pass <paramref name="pass"/>.</summary>
    public virtual void EndPass(int pass)
    {
    }

    /// <summary>Merges one slice into <paramref name="output"/> (length <see cref="SliceSet{T}.Count"/>).</summary>
    public abstract void Merge<T>(SliceSet<T> slices, Span<T> output) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;

    /// <summary>
    /// Asks the merge to run in one read of the tensor instead of a statistics pass and a merge pass (asked once,
    /// before any pass; float32 merges only). A merge that agrees (TIES on a tensor large enough for its selection's
    /// window) then takes its <see cref="StatisticsPasses"/> over a sample only, merges every slice in order with
    /// <see cref="MergeCounting"/> while it counts, and says at <see cref="EndOneRead"/> which elements it could not
    /// settle. The driver holds the tensor's output until then, so it offers this only for tensors it can hold.
    /// </summary>
    public virtual bool TryMergeInOneRead() => false;

    /// <summary>
    /// In one read: merges one slice (slices in order, from one thread) as far as what was counted so far allows,
    /// counts it, and gathers into <paramref name="deferred"/> the elements whose result must wait for the counts of
    /// the whole tensor (their output here is provisional).
    /// </summary>
    public virtual void MergeCounting(SliceSet<float> slices, Span<float> output, DeferredElements deferred) =>
        throw new NotSupportedException("this merge does not run in one read");

    /// <summary>
    /// In one read, after the last slice: what the driver does next. <see cref="OneReadEnd.Done"/>: nothing, every output
    /// was final; <see cref="OneReadEnd.MergeDeferred"/>: merge the
    /// gathered elements with <see cref="Merge{T}"/> and put each result at its position; <see cref="OneReadEnd.MergeAgain"/>:
    /// too many were deferred to gather, the statistics are complete, merge every slice again; <see cref="OneReadEnd.StartOver"/>:
    /// the counts could not settle the statistics, so the tensor is merged by a new <see cref="TensorMerge"/> the usual way.
    /// </summary>
    public virtual OneReadEnd EndOneRead(DeferredElements deferred) => throw new NotSupportedException("this merge does not run in one read");
}

/// <summary>How a one-read merge of a tensor ends (<see cref="TensorMerge.EndOneRead"/>).</summary>
public enum OneReadEnd
{
    /// <summary>Every element's output is final.</summary>
    Done,

    /// <summary>Merge the deferred elements; every other element's output is final.</summary>
    MergeDeferred,

    /// <summary>The statistics are complete but the deferred elements overflowed: merge every slice again.</summary>
    MergeAgain,

    /// <summary>The statistics are not settled: merge the tensor again from its first pass, with a new <see cref="TensorMerge"/>.</summary>
    StartOver,
}

/// <summary>Documentation of a merge parameter, for <c>soup merge --list-methods</c> and docs.</summary>
public sealed record MergeParameter(string Name, string Default, string Meaning);

/// <summary>The registry of merge methods, by name.</summary>
public static class MergeMethods
{
    /// <summary>The linear soup, Σ λᵢ θᵢ: rewarded soups' own method.</summary>
    public static IMergeMethod Linear { get; } = new LinearMethod();

    /// <summary>Every method, in the order help lists them.</summary>
    public static IReadOnlyList<IMergeMethod> All { get; } =
    [
        Linear,
        TaskVectorMethod.TaskArithmetic,
        TaskVectorMethod.Ties,
        TaskVectorMethod.DareLinear,
        TaskVectorMethod.DareTies,
        new SlerpMethod(),
    ];

    /// <summary>A method by name; an unknown name is a one-line error listing the names.</summary>
    public static IMergeMethod Get(string name) => Find(name) ?? throw new SoupInputException(Unknown(name));

    /// <summary>
    /// Writes what a soup's metadata says of how its method ran, beside <c>soup.method</c>: <c>soup.parameters</c> (every
    /// parameter as JSON, defaults included) for a method that takes any, and <c>soup.method_revision</c> for a method
    /// whose rule has been revised (<see cref="IMergeMethod.Revision"/>).
    /// </summary>
    public static void Describe(IMergeMethod method, ISettingsSection parameters, IDictionary<string, string> metadata)
    {
        if (ParameterKeys(method).Count > 0) metadata["soup.parameters"] = SettingsSection.ToJson(parameters).ToJsonString();
        if (method.Revision > 1) metadata["soup.method_revision"] = method.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A method by name, or null.</summary>
    public static IMergeMethod? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>The error of an unknown name: "unknown merge method 'x'; methods: linear, …".</summary>
    public static string Unknown(string name) => $"unknown merge method {Printable.Quote(name)}; methods: {string.Join(", ", All.Select(m => m.Name))}";

    /// <summary>The keys of a method's parameters.</summary>
    public static IReadOnlyList<string> ParameterKeys(IMergeMethod method) => SettingsSection.Keys(method.DefaultParameters.GetType());

    /// <summary>Every parameter key any method takes (the command line has one option per key).</summary>
    public static IReadOnlyList<string> AllParameterKeys { get; } = All.SelectMany(ParameterKeys).Distinct().ToList();

    /// <summary>
    /// A method's parameters from <paramref name="section"/> (null: the defaults), strictly: a key the method
    /// does not take, a value of the wrong type or out of range is one line naming <paramref name="path"/>'s key.
    /// </summary>
    public static ISettingsSection ReadParameters(IMergeMethod method, JsonObject? section, ConfigReader reader, string path) =>
        SettingsSection.Read(section, reader, path, method.DefaultParameters);

    /// <summary>A method's parameters documented: key, default, meaning (its <see cref="DescriptionAttribute"/>).</summary>
    public static IReadOnlyList<MergeParameter> Describe(IMergeMethod method)
    {
        JsonObject defaults = SettingsSection.ToJson(method.DefaultParameters);
        return method.DefaultParameters.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => defaults.ContainsKey(SettingsSection.Key(p)))
            .Select(p => new MergeParameter(SettingsSection.Key(p), defaults[SettingsSection.Key(p)]?.ToJsonString() ?? "none",
                p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? ""))
            .ToList();
    }
}

/// <summary>Parameters of a method that takes none but λ.</summary>
public sealed record NoMergeParameters : ISettingsSection;

/// <summary>
/// One slice of a tensor in every input (and the base), as <typeparamref name="T"/>: elements
/// <see cref="Start"/> … <see cref="Start"/> + <see cref="Count"/> − 1 of the tensor. An input is read
/// when first asked for.
/// </summary>
public abstract class SliceSet<T> where T : unmanaged
{
    /// <summary>Index in the tensor of the slice's first element.</summary>
    public long Start { get; protected set; }

    /// <summary>Elements in the slice.</summary>
    public int Count { get; protected set; }

    /// <summary>Inputs merged (the base not counted).</summary>
    public abstract int InputCount { get; }

    /// <summary>The slice of input <paramref name="k"/>.</summary>
    public abstract ReadOnlySpan<T> Input(int k);

    /// <summary>The slice of the base; only for methods that <see cref="IMergeMethod.NeedsBase"/>.</summary>
    public abstract ReadOnlySpan<T> Base();

    /// <summary>
    /// The slice of input <paramref name="k"/> as stored, for float32 merges (<typeparamref name="T"/> is float): a
    /// bfloat16 file's bytes unwidened, for kernels that widen in registers. By default the float32 values of <see cref="Input"/>.
    /// </summary>
    public virtual StoredFloats StoredInput(int k) => new(AsSingle(Input(k)));

    /// <summary>The slice of the base as stored; see <see cref="StoredInput"/>.</summary>
    public virtual StoredFloats StoredBase() => new(AsSingle(Base()));

    private static ReadOnlySpan<float> AsSingle(ReadOnlySpan<T> values) => typeof(T) == typeof(float)
        ? MemoryMarshal.Cast<T, float>(values)
        : throw new NotSupportedException("stored slices are for float32 merges");
}
