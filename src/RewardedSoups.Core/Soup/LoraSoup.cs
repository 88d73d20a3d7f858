using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;

namespace RewardedSoups.Soup;

/// <summary>How adapters are souped.</summary>
public enum LoraMode
{
    /// <summary>
    /// Average A and B separately (what the rewarded-soups code does): Σλᵢ Bᵢ · Σλᵢ Aᵢ, which is not
    /// Σλᵢ BᵢAᵢ; same rank, same config.
    /// </summary>
    Factors,

    /// <summary>
    /// Exact in weight space: ΔW = Σ λᵢ sᵢ Bᵢ Aᵢ (sᵢ = the adapter's scaling), written as one adapter of
    /// rank Σ rᵢ whose B concatenates the λᵢ sᵢ Bᵢ and whose A stacks the Aᵢ, with scaling 1.
    /// </summary>
    Delta,
}

/// <summary>The parts of a PEFT <c>adapter_config.json</c> a soup needs.</summary>
public sealed record LoraConfig(int Rank, double Alpha, bool RsLora, JsonObject Json)
{
    /// <summary>The factor applied to B·A: α/r, or α/√r with rank-stabilised LoRA.</summary>
    public double Scaling => RsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;
}

/// <summary>
/// Soups of PEFT LoRA adapters: folders holding <c>adapter_model.safetensors</c> and
/// <c>adapter_config.json</c>, as TRL/PEFT write them. Output is again such a folder, loadable by PEFT.
/// </summary>
public static class LoraSoup
{
    public const string ModelFile = "adapter_model.safetensors";
    public const string ConfigFile = "adapter_config.json";

    public static bool IsAdapterFolder(string path) =>
        Directory.Exists(path) && File.Exists(Path.Combine(path, ModelFile)) && File.Exists(Path.Combine(path, ConfigFile));

    public static LoraConfig ReadConfig(string folder)
    {
        string path = Path.Combine(folder, ConfigFile);
        JsonObject json;
        try
        {
            // A regular file of at most 16 MiB (configs are a few hundred bytes): a FIFO or /dev/zero is refused, not read.
            ReadOnlySpan<byte> utf8 = InputFiles.ReadAllBytes(path, 16 << 20);
            if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..]; // as File.ReadAllText, a byte order mark is not content
            json = JsonNode.Parse(utf8) as JsonObject ?? throw new SoupInputException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new SoupInputException($"{path}: not valid JSON: {e.Message.Split('\n')[0]}");
        }
        string? type = json["peft_type"]?.GetValue<string>();
        if (type is not null && type != "LORA") throw new SoupInputException($"{path}: peft_type '{type}' is not LORA");
        foreach (string key in new[] { "rank_pattern", "alpha_pattern" })
            if (json[key] is JsonObject o && o.Count > 0)
                throw new SoupInputException($"{path}: '{key}' (per-module ranks or alphas) is not supported; adapters must use one r and one lora_alpha");
        int rank = json["r"] is JsonValue r && r.TryGetValue(out int rv) && rv > 0 ? rv : throw new SoupInputException($"{path}: 'r' is missing or not a positive integer");
        double alpha = json["lora_alpha"] is JsonValue a && (a.TryGetValue(out double av) || (a.TryGetValue(out int ai) && (av = ai) == ai)) ? av
            : throw new SoupInputException($"{path}: 'lora_alpha' is missing or not a number");
        bool rslora = json["use_rslora"] is JsonValue u && u.TryGetValue(out bool ub) && ub;
        return new LoraConfig(rank, alpha, rslora, json);
    }

    /// <summary>Merges adapter folders into <paramref name="output"/> (a folder), atomically.</summary>
    public static SoupResult Merge(IReadOnlyList<string> inputs, IReadOnlyList<double>? weights, string output, LoraMode mode,
        bool allowExtrapolation = false, bool overwrite = false)
    {
        if (inputs.Count == 0) throw new SoupInputException("no input adapters given");
        double[] w = weights?.ToArray() ?? SoupWeights.Uniform(inputs.Count);
        SoupWeights.Validate(w, inputs.Count, allowExtrapolation);
        foreach (string input in inputs)
            if (!IsAdapterFolder(input)) throw new SoupInputException($"{input}: not a PEFT adapter folder ({ModelFile} and {ConfigFile})");
        LoraConfig[] configs = inputs.Select(ReadConfig).ToArray();
        for (int i = 1; i < configs.Length; i++)
        {
            string targetsA = configs[0].Json["target_modules"]?.ToJsonString() ?? "", targetsB = configs[i].Json["target_modules"]?.ToJsonString() ?? "";
            if (targetsA != targetsB)
                throw new SoupInputException($"{inputs[i]}: target_modules {targetsB} differ from {inputs[0]}'s {targetsA}");
        }
        if (mode == LoraMode.Factors)
        {
            for (int i = 1; i < configs.Length; i++)
                if (configs[i].Rank != configs[0].Rank || configs[i].Scaling != configs[0].Scaling)
                    throw new SoupInputException($"{inputs[i]}: r = {configs[i].Rank}, scaling {configs[i].Scaling.ToString(CultureInfo.InvariantCulture)} but {inputs[0]} has r = {configs[0].Rank}, scaling {configs[0].Scaling.ToString(CultureInfo.InvariantCulture)}; averaging factors needs equal ranks and scalings (--lora-mode delta does not)");
            using AtomicOutput folder = AtomicOutput.ForFolder(output, overwrite);
            string model = Path.Combine(folder.TemporaryPath, ModelFile);
            SoupResult result = StreamingMerge.Merge(new SoupRequest(inputs.Select(i => Path.Combine(i, ModelFile)).ToList(), w, model, AllowExtrapolation: allowExtrapolation));
            JsonObject config = (JsonObject)configs[0].Json.DeepClone();
            File.WriteAllText(Path.Combine(folder.TemporaryPath, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            folder.Commit();
            return result with { Output = Path.GetFullPath(output) };
        }
        return MergeDelta(inputs, w, configs, output, allowExtrapolation, overwrite);
    }

    private static SoupResult MergeDelta(IReadOnlyList<string> inputs, double[] w, LoraConfig[] configs, string output, bool allowExtrapolation, bool overwrite)
    {
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (string input in inputs) files.Add(SafetensorsFile.Open(Path.Combine(input, ModelFile)));
            SafetensorsFile first = files[0];
            int rank = configs.Sum(c => c.Rank);
            var tensors = new List<(TensorSpec Spec, byte[] Data)>();
            var plainNames = new List<string>();
            foreach (TensorInfo t in first.Tensors)
            {
                for (int k = 1; k < files.Count; k++)
                    if (!files[k].Header.ByName.ContainsKey(t.Name))
                        throw new SoupInputException($"tensor {Printable.Quote(t.Name)} is in {first.Path} but not in {files[k].Path}");
                if (t.Name.Contains(".lora_B.", StringComparison.Ordinal)) continue; // handled with its A
                if (!t.Name.Contains(".lora_A.", StringComparison.Ordinal))
                {
                    plainNames.Add(t.Name);
                    continue;
                }
                string bName = t.Name.Replace(".lora_A.", ".lora_B.", StringComparison.Ordinal);
                if (!first.Header.ByName.TryGetValue(bName, out TensorInfo? b0))
                    throw new SoupInputException($"{first.Path}: tensor {Printable.Quote(t.Name)} has no matching '{bName}'");
                // A' = [A₁; A₂; …] (rank × in), B' = [λ₁s₁B₁ | λ₂s₂B₂ | …] (out × rank): B'A' = Σ λᵢ sᵢ BᵢAᵢ.
                long inFeatures = t.Shape[1], outFeatures = b0.Shape[0];
                var a = new float[rank * inFeatures];
                var b = new float[outFeatures * rank];
                int offset = 0;
                for (int k = 0; k < files.Count; k++)
                {
                    TensorInfo ak = files[k].Header.ByName[t.Name], bk = files[k].Header.ByName.TryGetValue(bName, out TensorInfo? x) ? x
                        : throw new SoupInputException($"{files[k].Path}: tensor {Printable.Quote(t.Name)} has no matching '{bName}'");
                    int rk = configs[k].Rank;
                    if (ak.Shape.Length != 2 || ak.Shape[0] != rk || ak.Shape[1] != inFeatures || bk.Shape.Length != 2 || bk.Shape[0] != outFeatures || bk.Shape[1] != rk)
                        throw new SoupInputException($"tensor {Printable.Quote(t.Name)}: A {ak.ShapeText} / B {bk.ShapeText} in {files[k].Path} do not fit r = {rk}, in = {inFeatures}, out = {outFeatures}");
                    float[] ak32 = files[k].ReadSingles(ak), bk32 = files[k].ReadSingles(bk);
                    ak32.CopyTo(a, offset * inFeatures);
                    float scale = (float)(w[k] * configs[k].Scaling);
                    for (long row = 0; row < outFeatures; row++)
                        for (int c = 0; c < rk; c++)
                            b[row * rank + offset + c] = scale * bk32[row * rk + c];
                    offset += rk;
                }
                DType dtype = t.DType;
                tensors.Add((new TensorSpec(t.Name, dtype, [rank, inFeatures]), Encode(dtype, a)));
                tensors.Add((new TensorSpec(bName, b0.DType, [outFeatures, rank]), Encode(b0.DType, b)));
            }
            if (plainNames.Count > 0)
            {
                // Tensors that are not LoRA factors (modules_to_save, biases): the linear soup, as for full weights.
                var linear = new MemoryMerge(files.Count, w, allowExtrapolation: allowExtrapolation);
                foreach (string name in plainNames)
                {
                    TensorInfo info = first.Header.ByName[name];
                    if (!info.DType.IsFloat())
                    {
                        tensors.Add((new TensorSpec(name, info.DType, info.Shape), first.ReadAll(info)));
                        continue;
                    }
                    byte[] bytes = new byte[info.ByteLength];
                    if (ElementConversion.AccumulatesInDouble(info.DType))
                    {
                        var soup = new double[info.ElementCount];
                        linear.Tensor(name, files.Select(f => f.ReadDoubles(f.Header.ByName[name])).ToArray(), null, soup);
                        ElementConversion.FromDouble(info.DType, soup, bytes);
                    }
                    else
                    {
                        var soup = new float[info.ElementCount];
                        linear.Tensor(name, files.Select(f => f.ReadSingles(f.Header.ByName[name])).ToArray(), null, soup);
                        ElementConversion.FromSingle(info.DType, soup, bytes);
                    }
                    tensors.Add((new TensorSpec(name, info.DType, info.Shape), bytes));
                }
            }
            var metadata = new Dictionary<string, string>
            {
                ["format"] = "pt",
                ["soup.method"] = "lora-delta",
                ["soup.weights"] = "[" + string.Join(",", w.Select(SoupWeights.Format)) + "]",
                ["soup.inputs"] = JsonSerializer.Serialize(inputs.Select((p, k) => new Dictionary<string, string> { ["path"] = p, ["header_sha256"] = Convert.ToHexStringLower(files[k].HeaderSha256) })),
                ["soup.allow_extrapolation"] = allowExtrapolation ? "true" : "false",
            };
            using AtomicOutput folder = AtomicOutput.ForFolder(output, overwrite);
            SafetensorsWriter.WriteFile(Path.Combine(folder.TemporaryPath, ModelFile), tensors, metadata);
            JsonObject config = (JsonObject)configs[0].Json.DeepClone();
            // Scaling 1 on the concatenated rank: the λᵢ sᵢ are inside B'.
            config["r"] = rank;
            config["lora_alpha"] = rank;
            config["use_rslora"] = false;
            File.WriteAllText(Path.Combine(folder.TemporaryPath, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            folder.Commit();
            return new SoupResult(Path.GetFullPath(output), [ModelFile], tensors.Count, tensors.Sum(t => (long)t.Data.Length), w, metadata);
        }
        finally
        {
            foreach (SafetensorsFile f in files) f.Dispose();
        }
    }

    private static byte[] Encode(DType dtype, float[] values)
    {
        var bytes = new byte[values.Length * dtype.Size()];
        ElementConversion.FromSingle(dtype, values, bytes); // F64 included: widened exactly
        return bytes;
    }
}
