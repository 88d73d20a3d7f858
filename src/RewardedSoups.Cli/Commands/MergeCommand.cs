using System.CommandLine;
using System.Diagnostics;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup merge -o OUT [--weights w1,...] IN1 ... INN</c>: the linear soup θ = Σ wᵢ θᵢ of real checkpoints.</summary>
public static class MergeCommand
{
    public static Command Create(CommandContext context)
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Output: a .safetensors file, or a folder for a Hugging Face layout (model.safetensors, or shards with an index).",
            Required = true,
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
            Description = $"Merge method: {string.Join(", ", MergeMethods.All.Select(m => m.Name))}.",
            DefaultValueFactory = _ => MergeMethods.Linear.Name,
        };
        var loraMode = new Option<string>("--lora-mode")
        {
            Description = "For PEFT LoRA adapter folders: 'delta' (exact: ΔW = Σ λᵢ sᵢ BᵢAᵢ as one adapter of rank Σ rᵢ) or 'factors' (average A and B separately, as the paper's code).",
            DefaultValueFactory = _ => "delta",
        };
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Input checkpoints: .safetensors files or Hugging Face folders (single file or sharded).",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("merge", "Make a soup: θ = Σ wᵢ θᵢ, tensor by tensor, streaming, written atomically.")
        {
            output, weights, dtype, extrapolate, shard, overwrite, threads, method, loraMode, inputs,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            MergeMethods.Get(parsed.GetValue(method)!);
            string[] paths = parsed.GetValue(inputs)!;
            // The parser takes an unknown option for an input path: name it as what it is.
            string? stray = paths.FirstOrDefault(p => p.StartsWith('-') && !File.Exists(p) && !Directory.Exists(p));
            if (stray is not null) throw new SoupInputException($"unknown option '{stray}' (see 'soup merge --help')");
            string? weightText = parsed.GetValue(weights);
            string? dtypeText = parsed.GetValue(dtype);
            string? shardText = parsed.GetValue(shard);
            int adapters = paths.Count(LoraSoup.IsAdapterFolder);
            if (adapters > 0)
            {
                if (adapters != paths.Length)
                    throw new SoupInputException($"{paths.First(p => !LoraSoup.IsAdapterFolder(p))}: not a PEFT adapter folder, but other inputs are; soup adapters with adapters");
                LoraMode mode = parsed.GetValue(loraMode) switch
                {
                    "delta" => LoraMode.Delta,
                    "factors" => LoraMode.Factors,
                    var other => throw new SoupInputException($"--lora-mode '{other}' is not a mode; valid: delta, factors"),
                };
                SoupResult adapter = LoraSoup.Merge(paths, weightText is null ? null : SoupWeights.Parse(weightText), parsed.GetValue(output)!, mode,
                    parsed.GetValue(extrapolate), parsed.GetValue(overwrite));
                context.Out.WriteLine($"wrote {adapter.Output}: PEFT adapter ({mode.ToString().ToLowerInvariant()}), {adapter.Tensors} tensors, weights [{string.Join(", ", adapter.Weights.Select(SoupWeights.Format))}]");
                return ExitCodes.Success;
            }
            var request = new SoupRequest(
                paths,
                weightText is null ? null : SoupWeights.Parse(weightText),
                parsed.GetValue(output)!,
                dtypeText is null ? null : DTypes.ParseUserName(dtypeText, "--dtype"),
                parsed.GetValue(extrapolate),
                shardText is null ? null : Units.ParseBytes(shardText, "--max-shard-size"),
                parsed.GetValue(overwrite),
                parsed.GetValue(threads));
            if (request.Threads < 0) throw new SoupInputException($"--threads must be positive, got {request.Threads}");
            long total = EstimateOutputBytes(request);
            var clock = Stopwatch.StartNew();
            SoupResult result = ProgressDisplay.Run(context, "merge", total, progress => LinearSoup.Merge(request, progress, context.Cancel));
            clock.Stop();
            context.Out.WriteLine(
                $"wrote {result.Output}: {result.Tensors} tensors, {Units.Bytes(result.DataBytes)}, " +
                $"weights [{string.Join(", ", result.Weights.Select(SoupWeights.Format))}], {clock.Elapsed.TotalSeconds:F2} s");
            if (result.Shards.Count > 1) context.Out.WriteLine($"  {result.Shards.Count} shards + {Checkpoint.IndexFileName}");
            if (result.Metadata.TryGetValue("soup.extrapolated", out string? x) && x == "true")
                context.Out.WriteLine("  note: weights leave the simplex (extrapolation), as allowed by --allow-extrapolation");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>The progress total: output bytes, from the first input's header (cheap; the merge validates properly).</summary>
    private static long EstimateOutputBytes(SoupRequest request)
    {
        if (request.Inputs.Count == 0) return 0;
        using Checkpoint first = Checkpoint.Open(request.Inputs[0]);
        return first.Tensors.Sum(t => t.Info.ElementCount * (t.DType.IsFloat() ? (request.OutputDType ?? t.DType).Size() : t.DType.Size()));
    }
}
