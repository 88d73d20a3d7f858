using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup merge -o OUT [--method M] [--base INIT] [--weights w1,...] [--density D …] IN1 ... INN</c>: a soup of
/// real checkpoints with any registered merge method (<see cref="MergeMethods"/>); <c>--list-methods</c> lists them
/// with their parameters. Each parameter key of any method is an option; a method refuses the keys it does not take.
/// </summary>
public static class MergeCommand
{
    public static Command Create(CommandContext context)
    {
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Output: a .safetensors file, or a folder for a Hugging Face layout (model.safetensors, or shards with an index). Required.",
        };
        var weights = new Option<string?>("--weights", "-w")
        {
            Description = "Comma-separated weights, one per input in input order (λᵢ = weight of input i); default uniform. Must be finite, non-negative and sum to 1.",
        };
        var dtype = new Option<string?>("--dtype")
        {
            Description = "Dtype of the floating tensors written (F32, F16, BF16, F64, F8_E4M3, F8_E5M2); default: the inputs'.",
        };
        var extrapolate = new Option<bool>("--allow-extrapolation")
        {
            Description = "Accept any finite weights (negative, any sum), task-arithmetic style; recorded in the output metadata.",
        };
        var shard = new Option<string?>("--max-shard-size")
        {
            Description = "Shard a folder output into files of at most this size (e.g. 5GB, 500MB, 2GiB), with model.safetensors.index.json.",
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing, non-empty output folder." };
        var threads = new Option<int>("--threads") { Description = "Worker threads (default: one per core)." };
        var method = new Option<string>("--method")
        {
            Description = $"Merge method: {string.Join(", ", MergeMethods.All.Select(m => m.Name))} (see --list-methods).",
            DefaultValueFactory = _ => MergeMethods.Linear.Name,
        };
        var baseModel = new Option<string?>("--base")
        {
            Description = "The shared init θ₀ the experts were fine-tuned from: task-vector methods (task_arithmetic, ties, dare_linear, dare_ties) merge θᵢ − θ₀ and need it. For LoRA adapters: the base model they adapt, which slerp needs (the adapters' ΔWᵢ are task vectors already).",
        };
        var mergeInto = new Option<string?>("--merge-into")
        {
            Description = "For LoRA adapters: write the full model BASE + the soup's ΔW (a .safetensors file, or a folder that also gets BASE's config.json and tokenizer files) instead of an adapter.",
        };
        var listMethods = new Option<bool>("--list-methods") { Description = "List the merge methods with their parameters and defaults, and exit." };
        Dictionary<string, Option<string?>> parameterOptions = MergeMethods.AllParameterKeys.ToDictionary(key => key, key => new Option<string?>(OptionName(key))
        {
            Description = $"Parameter '{key}' of {string.Join(", ", MergeMethods.All.Where(m => MergeMethods.ParameterKeys(m).Contains(key)).Select(m => m.Name))} (see --list-methods).",
        });
        var loraMode = new Option<string>("--lora-mode")
        {
            Description = "For PEFT LoRA adapter folders souped linearly: 'delta' (exact: ΔW = Σ λᵢ sᵢ BᵢAᵢ as one adapter of rank Σ rᵢ) or 'factors' (average A and B separately, as the paper's code). Other methods merge the ΔWᵢ = sᵢBᵢAᵢ exactly.",
            DefaultValueFactory = _ => "delta",
        };
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Input checkpoints: .safetensors files or Hugging Face folders (single file or sharded).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("merge", "Make a soup: θ = Σ wᵢ θᵢ (or another merge method), tensor by tensor, streaming, written atomically.")
        {
            output, weights, dtype, extrapolate, shard, overwrite, threads, method, baseModel, listMethods, loraMode, mergeInto, inputs,
        };
        foreach (Option<string?> option in parameterOptions.Values) command.Options.Add(option);
        command.SetAction(parsed => context.Run(() =>
        {
            if (parsed.GetValue(listMethods))
            {
                ListMethods(context);
                return ExitCodes.Success;
            }
            IMergeMethod chosen = MergeMethods.Get(parsed.GetValue(method)!);
            string[] paths = parsed.GetValue(inputs)!;
            if (paths.Length == 0) throw new SoupInputException("no input checkpoints given (see 'soup merge --help')");
            string outputPath = parsed.GetValue(output) ?? throw new SoupInputException("--output is required: the soup's .safetensors file or folder (see 'soup merge --help')");
            var given = new JsonObject();
            foreach ((string key, Option<string?> option) in parameterOptions)
            {
                if (parsed.GetValue(option) is not string text) continue;
                if (!MergeMethods.ParameterKeys(chosen).Contains(key))
                {
                    IReadOnlyList<string> takes = MergeMethods.ParameterKeys(chosen);
                    throw new SoupInputException($"{OptionName(key)}: method {chosen.Name} does not take '{key}' ({(takes.Count == 0 ? "it takes no parameters" : "its parameters: " + string.Join(", ", takes))})");
                }
                given[key] = Runner.ConfigDocument.FromYaml(text, OptionName(key));
            }
            ISettingsSection parameters = MergeMethods.ReadParameters(chosen, given, new ConfigReader("soup merge"), chosen.Name);
            // The parser takes an unknown option for an input path: name it as what it is.
            string? stray = paths.FirstOrDefault(p => p.StartsWith('-') && !File.Exists(p) && !Directory.Exists(p));
            if (stray is not null) throw new SoupInputException($"unknown option '{stray}' (see 'soup merge --help')");
            string? weightText = parsed.GetValue(weights);
            string? dtypeText = parsed.GetValue(dtype);
            string? shardText = parsed.GetValue(shard);
            if (parameters is SlerpParameters { T: not null } && weightText is not null)
                throw new SoupInputException("--t and --weights both set slerp's interpolation; give one");
            // λ is checked here, where it enters, and passed inward as checked weights.
            bool extrapolation = parsed.GetValue(extrapolate);
            SoupWeights? lambda = weightText is not null ? SoupWeights.Parse(weightText, extrapolation, remedy: "--allow-extrapolation accepts any finite weights")
                : extrapolation ? SoupWeights.Uniform(paths.Length, allowExtrapolation: true) : null;
            int adapters = paths.Count(LoraSoup.IsAdapterFolder);
            if (adapters > 0)
            {
                if (adapters != paths.Length)
                    throw new SoupInputException($"{paths.First(p => !LoraSoup.IsAdapterFolder(p))}: not a PEFT adapter folder, but other inputs are; soup adapters with adapters");
                return MergeAdapters(context, paths, lambda, outputPath, chosen, parameters,
                    parsed.GetValue(loraMode)!, parsed.GetValue(baseModel), parsed.GetValue(mergeInto),
                    dtypeText is null ? null : DTypes.ParseUserName(dtypeText, "--dtype"), shardText is null ? null : Units.ParseBytes(shardText, "--max-shard-size"),
                    parsed.GetValue(overwrite), parsed.GetValue(threads));
            }
            if (parsed.GetValue(mergeInto) is not null)
                throw new SoupInputException("--merge-into folds LoRA adapters into their base model; these inputs are full models");
            var request = new SoupRequest(
                paths,
                lambda,
                outputPath,
                dtypeText is null ? null : DTypes.ParseUserName(dtypeText, "--dtype"),
                shardText is null ? null : Units.ParseBytes(shardText, "--max-shard-size"),
                parsed.GetValue(overwrite),
                parsed.GetValue(threads),
                chosen,
                parameters,
                parsed.GetValue(baseModel));
            if (request.Threads < 0) throw new SoupInputException($"--threads must be positive, got {request.Threads}");
            long total = EstimateOutputBytes(request);
            var clock = Stopwatch.StartNew();
            SoupResult result = ProgressDisplay.Run(context, "merge", total, progress => StreamingMerge.Merge(request, progress, context.Cancel));
            clock.Stop();
            string described = result.Metadata.TryGetValue("soup.parameters", out string? p) ? $"{chosen.Name} {p}" : chosen.Name;
            context.Out.WriteLine(
                $"wrote {result.Output}: {described}, {result.Tensors} tensors, {Units.Bytes(result.DataBytes)}, " +
                $"weights [{string.Join(", ", result.Weights.Select(SoupWeights.Format))}], {clock.Elapsed.TotalSeconds:F2} s");
            if (result.Shards.Count > 1) context.Out.WriteLine($"  {result.Shards.Count} shards + {Checkpoint.IndexFileName}");
            if (result.Metadata.TryGetValue("soup.extrapolated", out string? x) && x == "true")
                context.Out.WriteLine("  note: weights leave the simplex (extrapolation), as allowed by --allow-extrapolation");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>
    /// A soup of PEFT adapter folders: linear in a LoRA mode or any other method on their ΔWᵢ (an adapter), or,
    /// with <paramref name="mergeInto"/>, that adapter folded into the base model (a full model; the adapter is
    /// made in a scratch folder beside the output and removed).
    /// </summary>
    private static int MergeAdapters(CommandContext context, string[] paths, SoupWeights? weights, string output, IMergeMethod method, ISettingsSection parameters,
        string loraModeText, string? baseModel, string? mergeInto, DType? dtype, long? maxShardBytes, bool overwrite, int threads)
    {
        if (mergeInto is null && (dtype is not null || maxShardBytes is not null))
            throw new SoupInputException($"{(dtype is not null ? "--dtype" : "--max-shard-size")}: an adapter is written in its factors' dtype, as one file; these options apply to a full model (--merge-into BASE)");
        if (method == MergeMethods.Linear && baseModel is not null)
            throw new SoupInputException("--base: a linear soup of adapters reads no base model (the delta mode is exact without it)");
        if (method != MergeMethods.Linear && loraModeText != "delta")
            throw new SoupInputException($"--lora-mode {loraModeText}: modes are linear soups' variants; method {method.Name} merges the ΔWᵢ = sᵢBᵢAᵢ exactly");
        LoraMode mode = loraModeText switch
        {
            "delta" => LoraMode.Delta,
            "factors" => LoraMode.Factors,
            var other => throw new SoupInputException($"--lora-mode '{other}' is not a mode; valid: delta, factors"),
        };
        string adapterOutput = mergeInto is null ? output
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(output))!, $".{Path.GetFileName(Path.TrimEndingDirectorySeparator(output))}.adapter-{Guid.NewGuid():N}");
        try
        {
            SoupResult adapter = method == MergeMethods.Linear
                ? LoraSoup.Merge(paths, weights, adapterOutput, mode, overwrite)
                : LoraMethodSoup.Merge(paths, weights, adapterOutput, method, parameters, baseModel ?? (method is SlerpMethod ? mergeInto : null), overwrite);
            string how = method == MergeMethods.Linear ? mode.ToString().ToLowerInvariant()
                : (adapter.Metadata.TryGetValue("soup.parameters", out string? mp) ? $"{method.Name} {mp}" : method.Name) + "; " + adapter.Metadata.GetValueOrDefault("soup.lora", "low rank");
            string described = $"weights [{string.Join(", ", adapter.Weights.Select(SoupWeights.Format))}]";
            if (mergeInto is null)
            {
                context.Out.WriteLine($"wrote {adapter.Output}: PEFT adapter ({how}), {adapter.Tensors} tensors, {described}");
                return ExitCodes.Success;
            }
            var clock = Stopwatch.StartNew();
            long total = EstimateOutputBytes(new SoupRequest([mergeInto], null, output, dtype));
            SoupResult full = ProgressDisplay.Run(context, "merge", total, progress =>
                LoraMethodSoup.MergeInto(adapterOutput, mergeInto, output, adapter.Metadata, dtype, maxShardBytes, overwrite, threads, progress, context.Cancel));
            context.Out.WriteLine($"wrote {full.Output}: {mergeInto} + the adapters' soup ({how}), {full.Tensors} tensors, {Units.Bytes(full.DataBytes)}, {described}, {clock.Elapsed.TotalSeconds:F2} s");
            return ExitCodes.Success;
        }
        finally
        {
            if (mergeInto is not null && Directory.Exists(adapterOutput)) Directory.Delete(adapterOutput, recursive: true);
        }
    }

    private static string OptionName(string key) => "--" + key.Replace('_', '-');

    /// <summary>Every method: name, what it computes, whether it needs --base, its parameters with defaults.</summary>
    private static void ListMethods(CommandContext context)
    {
        foreach (IMergeMethod m in MergeMethods.All)
        {
            string inputs = m.Inputs is int n ? $"exactly {n} inputs" : "any number of inputs";
            context.Out.WriteLine($"{m.Name}: {m.Summary}");
            context.Out.WriteLine($"  {inputs}{(m.NeedsBase ? ", needs --base (the shared init)" : "")}; {m.Reference}");
            foreach (MergeParameter p in MergeMethods.Describe(m))
                context.Out.WriteLine($"  {OptionName(p.Name)} (default {p.Default}): {p.Meaning}");
        }
    }

    /// <summary>The progress total: output bytes, from the first input's header (cheap; the merge validates properly).</summary>
    private static long EstimateOutputBytes(SoupRequest request)
    {
        if (request.Inputs.Count == 0) return 0;
        using Checkpoint first = Checkpoint.Open(request.Inputs[0]);
        return first.Tensors.Sum(t => t.Info.ElementCount * (t.DType.IsFloat() ? (request.OutputDType ?? t.DType).Size() : t.DType.Size()));
    }
}
