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

    /// <summary>PEFT's <c>fan_in_fan_out</c>: the adapted weight is stored [in, out] (GPT-2's Conv1D), not [out, in].</summary>
    public bool FanInFanOut => Json["fan_in_fan_out"] is JsonValue f && f.TryGetValue(out bool b) && b;
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
    public static SoupResult Merge(IReadOnlyList<string> inputs, SoupWeights? weights, string output, LoraMode mode, bool overwrite = false)
    {
        if (inputs.Count == 0) throw new SoupInputException("no input adapters given");
        SoupWeights w = weights?.For(inputs.Count) ?? SoupWeights.Uniform(inputs.Count);
        LoraConfig[] configs = ReadConfigs(inputs);
        if (mode == LoraMode.Factors)
        {
            for (int i = 1; i < configs.Length; i++)
                if (configs[i].Rank != configs[0].Rank || configs[i].Scaling != configs[0].Scaling)
                    throw new SoupInputException($"{inputs[i]}: r = {configs[i].Rank}, scaling {configs[i].Scaling.ToString(CultureInfo.InvariantCulture)} but {inputs[0]} has r = {configs[0].Rank}, scaling {configs[0].Scaling.ToString(CultureInfo.InvariantCulture)}; averaging factors needs equal ranks and scalings (--lora-mode delta does not)");
            using AtomicOutput folder = AtomicOutput.ForFolder(output, overwrite);
            string model = Path.Combine(folder.TemporaryPath, ModelFile);
            SoupResult result = StreamingMerge.Merge(new SoupRequest(inputs.Select(i => Path.Combine(i, ModelFile)).ToList(), w, model));
            JsonObject config = (JsonObject)configs[0].Json.DeepClone();
            File.WriteAllText(Path.Combine(folder.TemporaryPath, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            folder.Commit();
            return result with { Output = Path.GetFullPath(output) };
        }
        return MergeDelta(inputs, w, w.ToArray(), configs, output, overwrite, new Dictionary<string, string>
        {
            ["soup.method"] = "lora-delta",
            ["soup.weights"] = w.ToString(),
        }, plainTensorsAllowed: true);
    }

    /// <summary>The configs of adapter folders that can be souped together (every one a PEFT adapter folder, the same target modules).</summary>
    internal static LoraConfig[] ReadConfigs(IReadOnlyList<string> inputs)
    {
        if (inputs.Count == 0) throw new SoupInputException("no input adapters given");
        foreach (string input in inputs)
            if (!IsAdapterFolder(input)) throw new SoupInputException($"{input}: not a PEFT adapter folder ({ModelFile} and {ConfigFile})");
        LoraConfig[] configs = inputs.Select(ReadConfig).ToArray();
        for (int i = 1; i < configs.Length; i++)
        {
            string targetsA = configs[0].Json["target_modules"]?.ToJsonString() ?? "", targetsB = configs[i].Json["target_modules"]?.ToJsonString() ?? "";
            if (targetsA != targetsB)
                throw new SoupInputException($"{inputs[i]}: target_modules {targetsB} differ from {inputs[0]}'s {targetsA}");
        }
        return configs;
    }

    /// <summary>
    /// One adapted module: its factors' names (in every adapter), its shape, and its plain-tensor neighbours
    /// excluded. <see cref="Delta"/> reads one adapter's factors and forms sᵢ·Bᵢ·Aᵢ.
    /// </summary>
    internal sealed record Module(string AName, string BName, long In, long Out, DType ADType, DType BDType)
    {
        /// <summary>The adapted weight's name in the base model (PEFT's prefix and the factor suffix removed).</summary>
        public string BaseWeightName(string peftPrefix)
        {
            string name = AName.StartsWith(peftPrefix, StringComparison.Ordinal) ? AName[peftPrefix.Length..] : AName;
            int at = name.LastIndexOf(".lora_A.", StringComparison.Ordinal);
            return name[..at] + ".weight";
        }

        /// <summary>The factors of this module in <paramref name="file"/>, checked against its adapter's rank.</summary>
        public (float[] A, float[] B, int Rank) Factors(SafetensorsFile file, LoraConfig config)
        {
            TensorInfo a = file.Header.ByName.TryGetValue(AName, out TensorInfo? x) ? x : throw new SoupInputException($"tensor {Printable.Quote(AName)} is in one adapter but not in {file.Path}");
            TensorInfo b = file.Header.ByName.TryGetValue(BName, out TensorInfo? y) ? y
                : throw new SoupInputException($"{file.Path}: tensor {Printable.Quote(AName)} has no matching '{BName}'");
            int r = config.Rank;
            if (a.Shape.Length != 2 || a.Shape[0] != r || a.Shape[1] != In || b.Shape.Length != 2 || b.Shape[0] != Out || b.Shape[1] != r)
                throw new SoupInputException($"tensor {Printable.Quote(AName)}: A {a.ShapeText} / B {b.ShapeText} in {file.Path} do not fit r = {r}, in = {In}, out = {Out}");
            return (file.ReadSingles(a), file.ReadSingles(b), r);
        }

        /// <summary>s·B·A (accumulated in float64, rounded once), laid out [in, out] when <paramref name="transposed"/> (PEFT's fan_in_fan_out), else [out, in].</summary>
        public float[] Delta(SafetensorsFile file, LoraConfig config, bool transposed)
        {
            (float[] a, float[] b, int r) = Factors(file, config);
            double s = config.Scaling;
            var delta = new float[In * Out];
            var row = new double[In];
            for (long o = 0; o < Out; o++)
            {
                Array.Clear(row);
                for (int c = 0; c < r; c++)
                {
                    double bc = b[o * r + c];
                    if (bc == 0) continue;
                    for (long i = 0; i < In; i++) row[i] += bc * a[c * In + i];
                }
                for (long i = 0; i < In; i++) delta[transposed ? i * Out + o : o * In + i] = (float)(s * row[i]);
            }
            return delta;
        }
    }

    /// <summary>
    /// The adapted modules of the first adapter, in its order, each present in every adapter; a tensor that is
    /// not a LoRA factor (modules_to_save, a bias) is refused unless <paramref name="plainTensorsAllowed"/>.
    /// </summary>
    internal static List<Module> Modules(IReadOnlyList<SafetensorsFile> files, IReadOnlyList<LoraConfig> configs, bool plainTensorsAllowed, string method)
    {
        SafetensorsFile first = files[0];
        var modules = new List<Module>();
        foreach (TensorInfo t in first.Tensors)
        {
            for (int k = 1; k < files.Count; k++)
                if (!files[k].Header.ByName.ContainsKey(t.Name))
                    throw new SoupInputException($"tensor {Printable.Quote(t.Name)} is in {first.Path} but not in {files[k].Path}");
            if (t.Name.Contains(".lora_B.", StringComparison.Ordinal)) continue; // handled with its A
            if (!t.Name.Contains(".lora_A.", StringComparison.Ordinal))
            {
                if (!plainTensorsAllowed)
                    throw new SoupInputException($"{first.Path}: tensor {Printable.Quote(t.Name)} is not a LoRA factor (modules_to_save?); method {method} needs its base value: merge the full models");
                continue;
            }
            string bName = t.Name.Replace(".lora_A.", ".lora_B.", StringComparison.Ordinal);
            if (!first.Header.ByName.TryGetValue(bName, out TensorInfo? b0))
                throw new SoupInputException($"{first.Path}: tensor {Printable.Quote(t.Name)} has no matching '{bName}'");
            if (t.Shape.Length != 2 || b0.Shape.Length != 2)
                throw new SoupInputException($"{first.Path}: tensor {Printable.Quote(t.Name)} is {t.ShapeText}, '{bName}' {b0.ShapeText}; LoRA factors are matrices");
            var module = new Module(t.Name, bName, t.Shape[1], b0.Shape[0], t.DType, b0.DType);
            modules.Add(module);
        }
        for (int k = 1; k < files.Count; k++)
        {
            TensorInfo? extra = files[k].Tensors.FirstOrDefault(t => !first.Header.ByName.ContainsKey(t.Name));
            if (extra is not null) throw new SoupInputException($"tensor {Printable.Quote(extra.Name)} is in {files[k].Path} but not in {first.Path}");
        }
        if (modules.Count == 0 && !plainTensorsAllowed) throw new SoupInputException($"{first.Path}: no LoRA factors (.lora_A./.lora_B. tensors)");
        return modules;
    }

    /// <summary>
    /// Σ wᵢ sᵢ BᵢAᵢ written exactly as one adapter of rank Σ rᵢ (A' stacks the Aᵢ, B' concatenates the wᵢsᵢBᵢ,
    /// scaling 1), w = <paramref name="coefficients"/>; plain tensors (allowed when the coefficients are the
    /// <paramref name="weights"/>) get the linear soup, as full weights do. The result reports the weights.
    /// </summary>
    internal static SoupResult MergeDelta(IReadOnlyList<string> inputs, SoupWeights weights, double[] coefficients, LoraConfig[] configs, string output, bool overwrite,
        Dictionary<string, string> metadata, bool plainTensorsAllowed)
    {
        if (plainTensorsAllowed && !coefficients.AsSpan().SequenceEqual(weights.ToArray()))
            throw new ArgumentException("plain tensors take the linear soup of the weights: the coefficients must be the weights", nameof(coefficients));
        double[] w = coefficients;
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (string input in inputs) files.Add(SafetensorsFile.Open(Path.Combine(input, ModelFile)));
            SafetensorsFile first = files[0];
            int rank = configs.Sum(c => c.Rank);
            var tensors = new List<(TensorSpec Spec, byte[] Data)>();
            string method = metadata.GetValueOrDefault("soup.method", "lora-delta");
            List<Module> modules = Modules(files, configs, plainTensorsAllowed, method);
            var factorNames = modules.SelectMany(m => new[] { m.AName, m.BName }).ToHashSet(StringComparer.Ordinal);
            foreach (Module module in modules)
            {
                // A' = [A₁; A₂; …] (rank × in), B' = [w₁s₁B₁ | w₂s₂B₂ | …] (out × rank): B'A' = Σ wᵢ sᵢ BᵢAᵢ.
                long inFeatures = module.In, outFeatures = module.Out;
                var a = new float[rank * inFeatures];
                var b = new float[outFeatures * rank];
                int offset = 0;
                for (int k = 0; k < files.Count; k++)
                {
                    (float[] ak32, float[] bk32, int rk) = module.Factors(files[k], configs[k]);
                    ak32.CopyTo(a, offset * inFeatures);
                    float scale = (float)(w[k] * configs[k].Scaling);
                    for (long row = 0; row < outFeatures; row++)
                        for (int c = 0; c < rk; c++)
                            b[row * rank + offset + c] = scale * bk32[row * rk + c];
                    offset += rk;
                }
                tensors.Add((new TensorSpec(module.AName, module.ADType, [rank, inFeatures]), Encode(module.ADType, a)));
                tensors.Add((new TensorSpec(module.BName, module.BDType, [outFeatures, rank]), Encode(module.BDType, b)));
            }
            List<string> plainNames = first.Tensors.Select(t => t.Name).Where(n => !factorNames.Contains(n)).ToList();
            if (plainNames.Count > 0)
            {
                // Tensors that are not LoRA factors (modules_to_save, biases): the linear soup, as for full weights.
                var linear = new MemoryMerge(files.Count, weights);
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
            var all = new Dictionary<string, string>(metadata)
            {
                ["format"] = "pt",
                ["soup.inputs"] = JsonSerializer.Serialize(inputs.Select((p, k) => new Dictionary<string, string> { ["path"] = p, ["header_sha256"] = Convert.ToHexStringLower(files[k].HeaderSha256) })),
                ["soup.allow_extrapolation"] = weights.AllowsExtrapolation ? "true" : "false",
            };
            // Scaling 1 on the concatenated rank: the wᵢ sᵢ are inside B'.
            return WriteAdapter(output, overwrite, tensors, all, configs[0], rank, alpha: rank, weights);
        }
        finally
        {
            foreach (SafetensorsFile f in files) f.Dispose();
        }
    }

    /// <summary>Writes an adapter folder atomically: the tensors, and the first input's config with <paramref name="rank"/> and <paramref name="alpha"/> (rsLoRA off).</summary>
    internal static SoupResult WriteAdapter(string output, bool overwrite, List<(TensorSpec Spec, byte[] Data)> tensors, Dictionary<string, string> metadata,
        LoraConfig template, int rank, double alpha, SoupWeights weights)
    {
        using AtomicOutput folder = AtomicOutput.ForFolder(output, overwrite);
        SafetensorsWriter.WriteFile(Path.Combine(folder.TemporaryPath, ModelFile), tensors, metadata);
        JsonObject config = (JsonObject)template.Json.DeepClone();
        config["r"] = rank;
        config["lora_alpha"] = alpha;
        config["use_rslora"] = false;
        File.WriteAllText(Path.Combine(folder.TemporaryPath, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        folder.Commit();
        return new SoupResult(Path.GetFullPath(output), [ModelFile], tensors.Count, tensors.Sum(t => (long)t.Data.Length), weights, metadata);
    }

    internal static byte[] Encode(DType dtype, float[] values)
    {
        var bytes = new byte[values.Length * dtype.Size()];
        ElementConversion.FromSingle(dtype, values, bytes); // F64 included: widened exactly
        return bytes;
    }
}
