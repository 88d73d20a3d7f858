using System.Globalization;
using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;
using RewardedSoups.Tasks;

namespace RewardedSoups.Soup;

/// <summary>
/// Merge methods other than linear on PEFT LoRA adapters of one base model. Adapter i changes a module's
/// weight by its task vector ΔWᵢ = sᵢ·Bᵢ·Aᵢ (sᵢ its scaling) and leaves the rest of the base alone, so:
/// <list type="bullet">
/// <item>task-vector methods (task_arithmetic, ties, dare_linear, dare_ties) merge the ΔWᵢ of each module
/// with a zero base — what they compute on the full models θᵢ = W₀ + ΔWᵢ with the base W₀, without the
/// rounding of W₀ + ΔWᵢ; the base model is not needed (DARE's drop masks, keyed by each input's values, are
/// then those of the ΔWᵢ: as reproducible, but not the elements a full-model merge would drop);</item>
/// <item>slerp interpolates whole weights, so it needs the base model the adapters adapt:
/// θ = slerp(W₀ + ΔW₁, W₀ + ΔW₂), written as the adapter of θ − W₀.</item>
/// </list>
/// The output is an adapter holding the merged ΔW exactly. task_arithmetic's ΔW = Σ cᵢ ΔWᵢ keeps the low
/// rank of the delta mode (rank Σ rᵢ, <see cref="LoraSoup"/>). The other methods give a dense ΔW, in general
/// of full rank: it is written as B = ΔW, A = I (or A = ΔW, B = I when the module has more inputs than outputs),
/// rank R = the largest min(in, out) over the modules (zero-padded where a module's is smaller), scaling 1 —
/// as large as the adapted weights themselves, and exact: every product of the factorisation is by 1 or 0.
/// Elements are numbered in the base weight's layout (PEFT's <c>fan_in_fan_out</c>: GPT-2's Conv1D stores
/// W as [in, out]) under the base weight's name, as in a merge of the full models.
/// </summary>
public static class LoraMethodSoup
{
    private const string PeftPrefix = "base_model.model.";

    /// <summary>The files of a base model's folder a merged model folder takes along: configuration, tokenizer, chat template.</summary>
    private static readonly HashSet<string> SideFileExtensions = new(StringComparer.Ordinal) { ".json", ".txt", ".model", ".tiktoken", ".jinja" };

    /// <summary>
    /// Merges adapter folders with <paramref name="method"/> into the adapter folder <paramref name="output"/>,
    /// atomically. <paramref name="baseModel"/>: the model the adapters adapt (a checkpoint file or folder),
    /// required by slerp and refused by the others (which do not read it).
    /// </summary>
    public static SoupResult Merge(IReadOnlyList<string> inputs, SoupWeights? weights, string output, IMergeMethod method,
        ISettingsSection parameters, string? baseModel = null, bool overwrite = false)
    {
        if (method == MergeMethods.Linear) throw new ArgumentException("linear soups of adapters are LoraSoup.Merge's delta and factors modes", nameof(method));
        bool spherical = method is SlerpMethod;
        if (spherical && baseModel is null)
            throw new SoupInputException($"method {method.Name} interpolates whole weights W₀ + ΔWᵢ: give the base model the adapters adapt (--base)");
        if (!spherical && baseModel is not null)
            throw new SoupInputException($"method {method.Name} merges the adapters' ΔWᵢ, which are task vectors already (their base is zero): remove --base");
        // The base of a task-vector method is the zero ΔW: "(in memory)" satisfies the request's check.
        SoupWeights w = StreamingMerge.CheckRequest(method, parameters, inputs.Count, weights, method.NeedsBase ? "(the zero ΔW)" : null);
        LoraConfig[] configs = LoraSoup.ReadConfigs(inputs);
        if (method == TaskVectorMethod.TaskArithmetic)
        {
            // Σ cᵢ ΔWᵢ with task_arithmetic's own coefficients: the delta adapter of rank Σ rᵢ, no dense ΔW.
            var p = (TaskArithmeticParameters)parameters;
            double divisor = w.Sum();
            if (Math.Abs(divisor) < 1e-8) divisor = 1;
            double factor = p.Lambda / (p.Normalize ? divisor : 1);
            double[] c = w.Select(x => x * factor).ToArray();
            Dictionary<string, string> described = Describe(method, parameters, w);
            described["soup.lora"] = $"rank {configs.Sum(x => x.Rank).ToString(CultureInfo.InvariantCulture)}: the delta mode's exact factorisation with coefficients [{string.Join(",", c.Select(SoupWeights.Format))}]";
            // (No plain tensors here: the coefficients may leave the simplex by design; the weights stay as given.)
            return LoraSoup.MergeDelta(inputs, w, c, configs, output, overwrite, described, plainTensorsAllowed: false);
        }
        return MergeDense(inputs, w, configs, output, method, parameters, baseModel, overwrite);
    }

    private static Dictionary<string, string> Describe(IMergeMethod method, ISettingsSection parameters, SoupWeights w)
    {
        var metadata = new Dictionary<string, string>
        {
            ["soup.method"] = method.Name,
            ["soup.weights"] = w.ToString(),
        };
        MergeMethods.Describe(method, parameters, metadata);
        return metadata;
    }

    private static SoupResult MergeDense(IReadOnlyList<string> inputs, SoupWeights w, LoraConfig[] configs, string output, IMergeMethod method,
        ISettingsSection parameters, string? baseModel, bool overwrite)
    {
        var files = new List<SafetensorsFile>();
        Checkpoint? baseCheckpoint = null;
        try
        {
            foreach (string input in inputs) files.Add(SafetensorsFile.Open(Path.Combine(input, LoraSoup.ModelFile)));
            if (baseModel is not null) baseCheckpoint = Checkpoint.Open(baseModel);
            bool fanInFanOut = configs[0].FanInFanOut;
            for (int k = 1; k < configs.Length; k++)
                if (configs[k].FanInFanOut != fanInFanOut)
                    throw new SoupInputException($"{inputs[k]}: fan_in_fan_out differs from {inputs[0]}'s");
            List<LoraSoup.Module> modules = LoraSoup.Modules(files, configs, plainTensorsAllowed: false, method.Name);
            int rank = modules.Max(m => (int)Math.Min(m.In, m.Out));
            var merge = new MemoryMerge(files.Count, w, method, parameters, hasBase: method.NeedsBase);
            var tensors = new List<(TensorSpec Spec, byte[] Data)>();
            foreach (LoraSoup.Module module in modules)
            {
                long inF = module.In, outF = module.Out, elements = inF * outF;
                string weightName = module.BaseWeightName(PeftPrefix);
                // ΔWᵢ (or W₀ + ΔWᵢ for slerp) in the base weight's layout: [in, out] with fan_in_fan_out, else [out, in].
                float[][] deltas = files.Select((file, k) => module.Delta(file, configs[k], fanInFanOut)).ToArray();
                float[]? w0 = baseCheckpoint is null ? null : BaseWeight(baseCheckpoint, weightName, fanInFanOut ? [inF, outF] : [outF, inF]);
                if (w0 is not null)
                    foreach (float[] d in deltas) System.Numerics.Tensors.TensorPrimitives.Add(d, w0, d);
                var merged = new float[elements];
                merge.Tensor(weightName, deltas, method.NeedsBase ? new float[elements] : null, merged);
                if (w0 is not null) System.Numerics.Tensors.TensorPrimitives.Subtract(merged, w0, merged);
                NumericGuard(merged, weightName);
                // B·A = ΔW in [out, in]: the identity on the smaller side, zero-padded to the common rank.
                var a = new float[rank * inF];
                var bm = new float[outF * rank];
                for (long o = 0; o < outF; o++)
                {
                    for (long i = 0; i < inF; i++)
                    {
                        float value = merged[fanInFanOut ? i * outF + o : o * inF + i];
                        if (inF <= outF) bm[o * rank + i] = value;     // B = ΔW, A = I
                        else a[o * inF + i] = value;                   // A = ΔW, B = I
                    }
                }
                if (inF <= outF) for (long i = 0; i < inF; i++) a[i * inF + i] = 1;
                else for (long o = 0; o < outF; o++) bm[o * rank + o] = 1;
                tensors.Add((new TensorSpec(module.AName, module.ADType, [rank, inF]), LoraSoup.Encode(module.ADType, a)));
                tensors.Add((new TensorSpec(module.BName, module.BDType, [outF, rank]), LoraSoup.Encode(module.BDType, bm)));
            }
            Dictionary<string, string> metadata = Describe(method, parameters, w);
            metadata["format"] = "pt";
            metadata["soup.inputs"] = JsonSerializer.Serialize(inputs.Select((p, k) => new Dictionary<string, string> { ["path"] = p, ["header_sha256"] = Convert.ToHexStringLower(files[k].HeaderSha256) }));
            metadata["soup.lora"] = $"dense ΔW, rank {rank.ToString(CultureInfo.InvariantCulture)} (exact factorisation B = ΔW, A = I or A = ΔW, B = I)";
            if (baseCheckpoint is not null) metadata["soup.base"] = JsonSerializer.Serialize(new Dictionary<string, string> { ["path"] = baseModel!, ["header_sha256"] = baseCheckpoint.HeaderSha256 });
            metadata["soup.allow_extrapolation"] = w.AllowsExtrapolation ? "true" : "false";
            return LoraSoup.WriteAdapter(output, overwrite, tensors, metadata, configs[0], rank, alpha: rank, w);
        }
        finally
        {
            baseCheckpoint?.Dispose();
            foreach (SafetensorsFile f in files) f.Dispose();
        }
    }

    /// <summary>The base model's weight of an adapted module, as float32, of the shape the adapter implies.</summary>
    private static float[] BaseWeight(Checkpoint checkpoint, string name, long[] shape)
    {
        CheckpointTensor t = BaseTensor(checkpoint, name, shape);
        return t.File.ReadSingles(t.Info);
    }

    /// <summary>The base model's tensor of an adapted module (a causal LM's keys may carry the head model's prefix or not: transformer.h.0… or h.0…), checked against the shape the adapter implies.</summary>
    private static CheckpointTensor BaseTensor(Checkpoint checkpoint, string name, long[] shape)
    {
        string? found = checkpoint.TryGet(name, out _) ? name
            : name.IndexOf('.') is int dot and > 0 && checkpoint.TryGet(name[(dot + 1)..], out _) ? name[(dot + 1)..] : null;
        if (found is null || !checkpoint.TryGet(found, out CheckpointTensor t))
            throw new SoupInputException($"{checkpoint.Path}: no tensor {Printable.Quote(name)} for the adapted module; is it the model the adapters adapt?");
        if (!t.Shape.SequenceEqual(shape))
            throw new SoupInputException($"{checkpoint.Path}: tensor {Printable.Quote(found)} is [{string.Join(", ", t.Shape)}], the adapters imply [{string.Join(", ", shape)}]");
        if (!t.DType.IsFloat()) throw new SoupInputException($"{checkpoint.Path}: tensor {Printable.Quote(found)} is {t.DType.Name()}, not floating");
        return t;
    }

    /// <summary>
    /// The full model <paramref name="baseModel"/> + ΔW of <paramref name="adapter"/> (one adapter folder, e.g. a
    /// soup just written), streamed into <paramref name="output"/> (a .safetensors file, or a folder that also
    /// receives the base folder's other files: config.json, the tokenizer's). Adapted weights get W₀ + s·B·A
    /// (in float32, rounded once into the output dtype); every other tensor is copied byte for byte.
    /// <paramref name="describe"/> (the soup's own metadata) is written over the fold's.
    /// </summary>
    public static SoupResult MergeInto(string adapter, string baseModel, string output, IReadOnlyDictionary<string, string> describe,
        DType? outputDType = null, long? maxShardBytes = null, bool overwrite = false, int threads = 0, IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        LoraConfig config = LoraSoup.ReadConfig(adapter);
        bool fanInFanOut = config.FanInFanOut;
        string baseHash;
        var deltas = new Dictionary<string, float[]>(StringComparer.Ordinal);
        using (SafetensorsFile file = SafetensorsFile.Open(Path.Combine(adapter, LoraSoup.ModelFile)))
        using (Checkpoint checkpoint = Checkpoint.Open(baseModel))
        {
            foreach (LoraSoup.Module module in LoraSoup.Modules([file], [config], plainTensorsAllowed: false, "--merge-into"))
            {
                long[] shape = fanInFanOut ? [module.In, module.Out] : [module.Out, module.In];
                string name = BaseTensor(checkpoint, module.BaseWeightName(PeftPrefix), shape).Name;
                float[] delta = module.Delta(file, config, fanInFanOut);
                NumericGuard(delta, name);
                deltas[name] = delta;
            }
            baseHash = checkpoint.HeaderSha256;
        }
        var metadata = new Dictionary<string, string>(describe.Where(kv => kv.Key != "format").ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);
        metadata["soup.merged_into"] = JsonSerializer.Serialize(new Dictionary<string, string> { ["path"] = baseModel, ["header_sha256"] = baseHash });
        // The folder's configuration and tokenizer files (links followed, as in a Hugging Face cache; at most
        // 64 MiB each), never its weights in other formats (pytorch_model.bin would be the base's stale weights).
        var sideFiles = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (Directory.Exists(baseModel))
            foreach (string p in Directory.GetFiles(baseModel).Order(StringComparer.Ordinal))
                if (SideFileExtensions.Contains(Path.GetExtension(p)) && Path.GetFileName(p) != Checkpoint.IndexFileName)
                    sideFiles[Path.GetFileName(p)] = InputFiles.ReadAllBytes(p, 64 << 20);
        var fold = new FoldMethod(deltas);
        SoupResult result = StreamingMerge.Merge(new SoupRequest([baseModel], [1.0], output, outputDType, MaxShardBytes: maxShardBytes, Overwrite: overwrite,
            Threads: threads, Method: fold, Parameters: FoldMethod.NoParameters, Metadata: metadata, SideFiles: sideFiles), progress, cancel);
        return result;
    }

    /// <summary>W₀ + ΔW on the adapted weights, W₀ itself elsewhere: the one-input "merge" that folds an adapter into its base.</summary>
    private sealed class FoldMethod(IReadOnlyDictionary<string, float[]> deltas) : IMergeMethod
    {
        public static readonly ISettingsSection NoParameters = new None();

        public string Name => "lora-fold";

        public string Summary => "W₀ + s·B·A on each adapted weight";

        public string Reference => "Hu et al., LoRA, ICLR 2022 (merging the adapter into the weights)";

        public bool NeedsBase => false;

        public int? Inputs => 1;

        public ISettingsSection DefaultParameters => NoParameters;

        public MergeKernel CreateKernel(SoupWeights weights, ISettingsSection parameters) => new Kernel(deltas);

        private sealed record None : ISettingsSection;

        private sealed class Kernel(IReadOnlyDictionary<string, float[]> deltas) : MergeKernel
        {
            private static readonly TensorMerge Copy = new CopyTensor();

            public override TensorMerge ForTensor(string name, DType dtype, long elements) =>
                deltas.TryGetValue(name, out float[]? delta) ? new AddTensor(delta) : Copy;
        }

        private sealed class CopyTensor : TensorMerge
        {
            public override int CopiesInput => 0;

            public override void Merge<T>(SliceSet<T> slices, Span<T> output) => slices.Input(0).CopyTo(output);
        }

        private sealed class AddTensor(float[] delta) : TensorMerge
        {
            public override void Merge<T>(SliceSet<T> slices, Span<T> output)
            {
                ReadOnlySpan<T> w0 = slices.Input(0);
                for (int i = 0; i < slices.Count; i++) output[i] = w0[i] + T.CreateTruncating(delta[slices.Start + i]);
            }
        }
    }

    private static void NumericGuard(float[] values, string name)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) throw new NumericalFailureException($"the merged ΔW of {Printable.Quote(name)} is not finite");
    }
}
