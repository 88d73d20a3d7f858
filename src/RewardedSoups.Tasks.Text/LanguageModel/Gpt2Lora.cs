using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using RewardedSoups.Soup;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// LoRA adapters of a GPT-2 model (PEFT's <c>LoraConfig</c>), and the <c>text.lora</c> section of a text
/// experiment (each key the snake_case of its property).
/// </summary>
public sealed record LoraSettings : ISettingsSection
{
    /// <summary>Largest rank: the widest built-in model's width.</summary>
    public const int MaxRank = 2048;

    /// <summary>Rank r of every adapter.</summary>
    [Range(1, MaxRank)]
    public int Rank { get; init; } = 8;

    /// <summary>lora_alpha: B·A is scaled by α/r.</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)]
    public double Alpha { get; init; } = 16;

    /// <summary>
    /// Conv1D layers to adapt (PEFT's <c>target_modules</c>), matched as PEFT does: a layer whose name is the
    /// target or ends with "." + target (<c>c_attn</c>; <c>c_proj</c> matches the attention's and the MLP's;
    /// <c>c_fc</c>). GPT-2's layers: <see cref="Gpt2Layers"/>.
    /// </summary>
    public IReadOnlyList<string> Targets { get; init; } = ["c_attn", "c_proj", "c_fc"];

    /// <summary>Dropout on the adapter's input while training (0: none), its masks drawn from the trainer's generator (<see cref="Gpt2Lora.Training"/>).</summary>
    [Range(0.0, 1.0, MaximumIsExclusive = true)]
    public double Dropout { get; init; }

    /// <summary>The names a target may have in a GPT-2 model.</summary>
    public static IReadOnlyList<string> Gpt2Layers { get; } = ["c_attn", "c_proj", "c_fc", "attn.c_proj", "mlp.c_proj"];

    [JsonIgnore]
    public double Scaling => Alpha / Rank;

    /// <summary>At least one target, each a GPT-2 layer.</summary>
    public void Check(SettingsCheck check)
    {
        if (Targets.Count == 0) throw check.Fail("targets", $"is empty; GPT-2's layers: {string.Join(", ", Gpt2Layers)}");
        foreach (string t in Targets)
            if (!Gpt2Layers.Contains(t)) throw check.Fail("targets", $"'{t}' is not a GPT-2 layer; valid: {string.Join(", ", Gpt2Layers)}");
    }

    /// <summary>Checks settings built in code: one line naming the first key at fault.</summary>
    public void Validate() => SettingsSection.Validate(this, "lora");
}

/// <summary>One adapter: ΔW·x = s·B·A·x with A <c>[r, in]</c>, B <c>[out, r]</c> (PEFT's shapes for any layer).</summary>
internal sealed class LoraLayer(string name, Parameter a, Parameter b, double scaling, Gpt2Lora owner)
{
    public string Name { get; } = name;

    public Parameter A { get; } = a;

    public Parameter B { get; } = b;

    public double Scaling { get; } = scaling;

    /// <summary><see cref="Scaling"/> as a Scalar held as long as the layer (a temporary one can be finalized during the native call: KeptAliveAdam).</summary>
    private readonly Scalar _scaling = scaling;

    public bool Enabled => owner.Enabled;

    /// <summary>s·(x·Aᵀ)·Bᵀ for x <c>[…, in]</c>: two thin products, never the full <c>[in, out]</c> update.</summary>
    public Tensor Delta(Tensor x)
    {
        if (owner.Dropout > 0 && owner.Training is Generator generator)
            x = x.mul(rand(x.shape, dtype: x.dtype, generator: generator).ge(owner.DropoutScalar).to_type(x.dtype)).mul(owner.KeepScaleScalar);
        return x.matmul(A.t()).matmul(B.t()).mul(_scaling);
    }
}

/// <summary>
/// LoRA adapters injected into a <see cref="Gpt2Model"/>'s Conv1D layers, PEFT-style: the base weights
/// are frozen, A starts Kaiming-uniform and B at zero, so the adapted model starts exactly equal to the
/// base. Saved and loaded as a PEFT adapter folder (<c>adapter_model.safetensors</c> with keys
/// <c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>, and <c>adapter_config.json</c>),
/// which <see cref="LoraSoup"/> soups and PEFT loads onto Hugging Face's GPT-2. <see cref="Enabled"/> off
/// gives the base model back (the frozen reference of RLHF without a second copy);
/// <see cref="MergeAndUnload"/> folds the adapter into the weights for fast inference.
/// </summary>
public sealed class Gpt2Lora : IDisposable
{
    /// <summary>PEFT's prefix of a causal LM's keys (PeftModelForCausalLM → LoraModel → GPT2LMHeadModel).</summary>
    public const string KeyPrefix = "base_model.model.";

    private readonly Gpt2Model _model;
    private readonly List<LoraLayer> _layers = [];
    private bool _attached = true;

    private Gpt2Lora(Gpt2Model model, int rank, double alpha, double scaling, bool rsLora, IReadOnlyList<string> targets, double dropout)
    {
        _model = model;
        Rank = rank;
        Alpha = alpha;
        Scaling = scaling;
        RsLora = rsLora;
        TargetModules = targets;
        Dropout = dropout;
        DropoutScalar = dropout;
        KeepScaleScalar = 1 / (1 - dropout);
    }

    public int Rank { get; }

    public double Alpha { get; }

    /// <summary>The factor on B·A: α/r (α/√r for an rsLoRA adapter).</summary>
    public double Scaling { get; }

    public bool RsLora { get; }

    public IReadOnlyList<string> TargetModules { get; }

    public double Dropout { get; }

    /// <summary><see cref="Dropout"/> and 1/(1 − dropout) as Scalars held as long as the adapter (KeptAliveAdam says why).</summary>
    internal readonly Scalar DropoutScalar;

    internal readonly Scalar KeepScaleScalar;

    /// <summary>Off: every adapted layer computes the base layer alone.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Set while training: dropout applies, each mask drawn from this generator — the trainer's own, saved in
    /// its checkpoint, so a resumed training draws the masks an uninterrupted one would (torch's dropout
    /// would draw from the process's default generator, which no checkpoint holds). Null: inference.
    /// </summary>
    public Generator? Training { get; set; }

    /// <summary>Names of the adapted layers (<c>transformer.h.0.attn.c_attn</c>, …), in model order.</summary>
    public IReadOnlyList<string> Modules => _layers.Select(l => l.Name).ToList();

    /// <summary>The trainable parameters: A then B of every adapted layer, in model order.</summary>
    public IEnumerable<Parameter> Parameters() => _layers.SelectMany(l => new[] { l.A, l.B });

    /// <summary>Parameter names as PEFT saves them, in the order of <see cref="Parameters"/>.</summary>
    public IEnumerable<string> ParameterNames() =>
        _layers.SelectMany(l => new[] { $"{KeyPrefix}{l.Name}.lora_A.weight", $"{KeyPrefix}{l.Name}.lora_B.weight" });

    /// <summary>
    /// New adapters on the layers named by <paramref name="settings"/>; A is Kaiming-uniform (a = √5, as
    /// PEFT initialises it: U(−1/√in, 1/√in)) drawn from <paramref name="generator"/>, B is zero.
    /// </summary>
    public static Gpt2Lora Inject(Gpt2Model model, LoraSettings settings, Generator generator)
    {
        settings.Validate();
        var lora = new Gpt2Lora(model, settings.Rank, settings.Alpha, settings.Scaling, rsLora: false, settings.Targets, settings.Dropout);
        lora.Attach((name, conv) =>
        {
            long input = conv.Weight.shape[0], output = conv.Weight.shape[1];
            double bound = 1 / Math.Sqrt(input);
            Tensor a;
            using (NewDisposeScope()) a = (rand([settings.Rank, input], generator: generator) * (2 * bound) - bound).MoveToOuterDisposeScope();
            return (a, zeros([output, settings.Rank]));
        });
        return lora;
    }

    /// <summary>
    /// Loads a PEFT adapter folder onto <paramref name="model"/>: any rank and alpha (a delta-mode soup has
    /// rank Σrᵢ and lora_alpha = r), rsLoRA scaling honoured. Every target must adapt a layer and every
    /// tensor of the file must be a factor of one, with PEFT's shapes; bias training, modules_to_save and
    /// regex targets are refused with one line naming the key.
    /// </summary>
    public static Gpt2Lora Load(Gpt2Model model, string folder)
    {
        if (!LoraSoup.IsAdapterFolder(folder))
            throw new SoupInputException($"{folder}: not a PEFT adapter folder ({LoraSoup.ModelFile} and {LoraSoup.ConfigFile})");
        LoraConfig config = LoraSoup.ReadConfig(folder);
        string configPath = Path.Combine(folder, LoraSoup.ConfigFile);
        if (config.Json["bias"] is JsonValue bias && bias.TryGetValue(out string? biasMode) && biasMode != "none")
            throw new SoupInputException($"{configPath}: bias '{biasMode}' is not supported (adapters train no biases: \"none\")");
        if (config.Json["modules_to_save"] is JsonArray { Count: > 0 })
            throw new SoupInputException($"{configPath}: modules_to_save is not supported (the adapter must hold LoRA factors only)");
        if (config.Json["target_modules"] is not JsonArray targetsJson || targetsJson.Count == 0)
            throw new SoupInputException($"{configPath}: target_modules must be a non-empty list of layer names (a regex string is not supported)");
        string[] targets = targetsJson.Select(t => t?.GetValue<string>() ?? "").ToArray();
        double dropout = config.Json["lora_dropout"] is JsonValue d && d.TryGetValue(out double dv) ? dv : 0;
        string modelPath = Path.Combine(folder, LoraSoup.ModelFile);
        using SafetensorsFile file = SafetensorsFile.Open(modelPath);
        var lora = new Gpt2Lora(model, config.Rank, config.Alpha, config.Scaling, config.RsLora, targets, Math.Clamp(dropout, 0, 0.99));
        var used = new HashSet<string>();
        try
        {
            lora.Attach((name, conv) =>
            {
                long input = conv.Weight.shape[0], output = conv.Weight.shape[1];
                Tensor Read(string factor, long rows, long cols)
                {
                    string key = $"{KeyPrefix}{name}.{factor}.weight";
                    if (!file.Header.ByName.TryGetValue(key, out TensorInfo? info))
                        throw new SoupInputException($"{modelPath}: no tensor '{key}' (target_modules {targetsJson.ToJsonString()} adapts {name})");
                    if (info.Shape.Length != 2 || info.Shape[0] != rows || info.Shape[1] != cols)
                        throw new SoupInputException($"{modelPath}: tensor '{key}' has shape {info.ShapeText} but r = {config.Rank} on {name} needs [{rows}, {cols}]");
                    used.Add(key);
                    return tensor(file.ReadSingles(info), [rows, cols]);
                }
                return (Read("lora_A", config.Rank, input), Read("lora_B", output, config.Rank));
            });
        }
        catch
        {
            lora.Dispose();
            throw;
        }
        foreach (TensorInfo t in file.Tensors)
        {
            if (!used.Contains(t.Name))
            {
                lora.Dispose();
                throw new SoupInputException($"{modelPath}: tensor '{t.Name}' is not a LoRA factor of an adapted layer of this model");
            }
        }
        return lora;
    }

    /// <summary>Creates one adapter per Conv1D layer matching a target and freezes the whole base model.</summary>
    private void Attach(Func<string, Conv1D, (Tensor A, Tensor B)> factors)
    {
        var matched = new HashSet<string>();
        foreach ((string name, nn.Module module) in _model.named_modules())
        {
            if (module is not Conv1D conv) continue;
            string? target = TargetModules.FirstOrDefault(t => name == t || name.EndsWith("." + t, StringComparison.Ordinal));
            if (target is null) continue;
            if (conv.Lora is not null) throw new InvalidOperationException($"layer {name} already carries an adapter");
            matched.Add(target);
            (Tensor a, Tensor b) = factors(name, conv);
            var layer = new LoraLayer(name, new Parameter(a, requires_grad: true), new Parameter(b, requires_grad: true), Scaling, this);
            conv.Lora = layer;
            _layers.Add(layer);
        }
        foreach (string t in TargetModules)
        {
            if (!matched.Contains(t))
            {
                Dispose();
                throw new SoupInputException($"lora: target '{t}' matches no Conv1D layer of the model (GPT-2's are c_attn, c_proj, c_fc)");
            }
        }
        foreach (Parameter p in _model.parameters()) p.requires_grad = false;
    }

    /// <summary>Turns the adapter off until the returned scope is disposed (PEFT's <c>disable_adapter()</c>).</summary>
    public DisabledScope Disable() => new(this);

    public readonly struct DisabledScope : IDisposable
    {
        private readonly Gpt2Lora _lora;
        private readonly bool _was;

        internal DisabledScope(Gpt2Lora lora)
        {
            _lora = lora;
            _was = lora.Enabled;
            lora.Enabled = false;
        }

        public void Dispose() => _lora.Enabled = _was;
    }

    /// <summary>
    /// Folds the adapter into the base weights, W_conv += s·(B·A)ᵀ (Conv1D stores W as <c>[in, out]</c>,
    /// hence PEFT's fan_in_fan_out), and removes it: the model then runs at base speed and is the adapted
    /// model. The base parameters stay frozen.
    /// </summary>
    public void MergeAndUnload()
    {
        if (!_attached) throw new InvalidOperationException("the adapter was already merged or disposed");
        using (no_grad())
        {
            foreach (LoraLayer layer in _layers)
            {
                using var scope = NewDisposeScope();
                Conv1D conv = Find(layer.Name);
                using Scalar scaling = layer.Scaling.ToScalar();
                conv.Weight.add_(layer.B.matmul(layer.A).t().mul(scaling)); // [in, out] += s·(B[out, r]·A[r, in])ᵀ
            }
        }
        Dispose();
    }

    private Conv1D Find(string name) =>
        _model.named_modules().First(m => m.name == name).module as Conv1D ?? throw new InvalidOperationException($"{name} is not a Conv1D");

    /// <summary>
    /// Writes a PEFT adapter folder, atomically (an existing folder is replaced): the factors as F32 under
    /// PEFT's keys, and an <c>adapter_config.json</c> PEFT reads (peft_type LORA, task_type CAUSAL_LM,
    /// fan_in_fan_out true for GPT-2's Conv1D, bias none).
    /// </summary>
    public void Save(string folder, string? baseModel, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!_attached) throw new InvalidOperationException("the adapter was merged or disposed");
        var tensors = new List<(TensorSpec Spec, byte[] Data)>();
        foreach ((string name, Parameter p) in ParameterNames().Zip(Parameters()))
        {
            using Tensor cpu = p.detach().cpu().to(float32).contiguous();
            tensors.Add((new TensorSpec(name, DType.F32, cpu.shape), cpu.bytes.ToArray()));
        }
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null) foreach ((string k, string v) in metadata) meta[k] = v;
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModel,
            ["r"] = Rank,
            ["lora_alpha"] = Alpha,
            ["lora_dropout"] = Dropout,
            ["target_modules"] = new JsonArray(TargetModules.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["fan_in_fan_out"] = true,
            ["bias"] = "none",
            ["use_rslora"] = RsLora,
            ["modules_to_save"] = null,
            ["init_lora_weights"] = true,
            ["inference_mode"] = true,
            ["revision"] = null,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(folder.TrimEnd('/')))!);
        using AtomicOutput output = AtomicOutput.ForFolder(folder, overwrite: true);
        TrainedCheckpoint.Write(Path.Combine(output.TemporaryPath, LoraSoup.ModelFile), tensors, meta);
        File.WriteAllText(Path.Combine(output.TemporaryPath, LoraSoup.ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        output.Commit();
    }

    /// <summary>Scaling as text, for logs and errors.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"LoRA r = {Rank}, alpha = {Alpha}, scaling {Scaling:G4}, on {_layers.Count} layers ({string.Join(", ", TargetModules)})");

    /// <summary>Detaches the adapters from the model (which becomes the base again) and frees them.</summary>
    public void Dispose()
    {
        if (!_attached) return;
        _attached = false;
        foreach (LoraLayer layer in _layers)
        {
            Conv1D conv = Find(layer.Name);
            if (ReferenceEquals(conv.Lora, layer)) conv.Lora = null;
            layer.A.Dispose();
            layer.B.Dispose();
        }
    }
}
