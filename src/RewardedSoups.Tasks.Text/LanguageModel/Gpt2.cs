using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Text;

/// <summary>The fields of a Hugging Face GPT-2 <c>config.json</c> the model needs.</summary>
public sealed record Gpt2Config(int VocabSize, int Positions, int Embedding, int Layers, int Heads, double LayerNormEpsilon = 1e-5)
{
    public static Gpt2Config Load(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) throw new SoupInputException($"{folder}: no config.json (a Hugging Face GPT-2 folder has config.json and model.safetensors)");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement r = doc.RootElement;
        int Int(string key) => r.TryGetProperty(key, out JsonElement v) && v.TryGetInt32(out int i) && i > 0 ? i
            : throw new SoupInputException($"{path}: '{key}' is missing or not a positive integer");
        if (r.TryGetProperty("activation_function", out JsonElement act) && act.GetString() is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw new SoupInputException($"{path}: activation_function '{act.GetString()}' is not supported (gelu_new)");
        var config = new Gpt2Config(Int("vocab_size"), Int("n_positions"), Int("n_embd"), Int("n_layer"), Int("n_head"),
            r.TryGetProperty("layer_norm_epsilon", out JsonElement eps) ? eps.GetDouble() : 1e-5);
        if (config.Embedding % config.Heads != 0) throw new SoupInputException($"{path}: n_embd {config.Embedding} is not a multiple of n_head {config.Heads}");
        return config;
    }
}

/// <summary>GPT-2's <c>Conv1D</c>: y = x·W + b with W stored <c>[in, out]</c> (the transpose of nn.Linear), as in Hugging Face checkpoints.</summary>
public sealed class Conv1D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // PyTorch names are the checkpoint keys
    private readonly Parameter weight;
    private readonly Parameter bias;
#pragma warning restore IDE1006

    public Conv1D(int input, int output) : base(nameof(Conv1D))
    {
        weight = nn.Parameter(normal(0, 0.02, [input, output]));
        bias = nn.Parameter(zeros(output));
        RegisterComponents();
    }

    /// <summary>The weight <c>[in, out]</c>, for merging an adapter into it.</summary>
    internal Parameter Weight => weight;

    /// <summary>
    /// A LoRA adapter on this layer (<see cref="Gpt2Lora"/>), or null. Deliberately not a registered
    /// component: the model's state dict stays the base model's, the adapter is saved on its own.
    /// </summary>
    internal LoraLayer? Lora { get; set; }

    public override Tensor forward(Tensor x)
    {
        Tensor y = addmm(bias, x.reshape(-1, x.shape[^1]), weight, 1, 1).reshape([.. x.shape[..^1], weight.shape[1]]);
        // A long-lived alpha, not the operator's temporary Scalar, which a collection during the native
        // call can finalize and free while libtorch reads it (see KeptAliveAdam; the rule SOUP001).
        return Lora is { Enabled: true } lora ? y.add(lora.Delta(x), One) : y;
    }

    private static readonly Scalar One = 1.0;
}

/// <summary>Causal self-attention with GPT-2's fused q/k/v projection.</summary>
public sealed class Gpt2Attention : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Conv1D c_attn;
    private readonly Conv1D c_proj;
#pragma warning restore IDE1006
    private readonly int _heads;

    public Gpt2Attention(Gpt2Config config) : base(nameof(Gpt2Attention))
    {
        c_attn = new Conv1D(config.Embedding, 3 * config.Embedding);
        c_proj = new Conv1D(config.Embedding, config.Embedding);
        _heads = config.Heads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, null, 0);

    /// <summary>
    /// Attention of <paramref name="x"/> <c>[b, t, c]</c> at positions <c>start … start+t−1</c>. With a cache,
    /// this call's keys and values are written into it and the queries attend to every cached position:
    /// either a whole prompt at once (<c>start = 0</c>, causal) or one new token (no mask needed).
    /// </summary>
    internal Tensor Forward(Tensor x, Gpt2KvCache.Layer? cache, int start)
    {
        long b = x.shape[0], t = x.shape[1], c = x.shape[2];
        Tensor[] qkv = c_attn.call(x).split(c, dim: 2);                 // 3 × [b, t, c]
        Tensor Heads(Tensor y) => y.view(b, t, _heads, c / _heads).transpose(1, 2); // [b, h, t, c/h]
        Tensor q = Heads(qkv[0]), k = Heads(qkv[1]), v = Heads(qkv[2]);
        if (cache is not null)
        {
            cache.Keys.narrow(2, start, t).copy_(k);
            cache.Values.narrow(2, start, t).copy_(v);
            k = cache.Keys.narrow(2, 0, start + t);                     // [b, h, start+t, c/h]
            v = cache.Values.narrow(2, 0, start + t);
        }
        Tensor y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: t > 1);
        return c_proj.call(y.transpose(1, 2).contiguous().view(b, t, c));
    }
}

public sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Conv1D c_fc;
    private readonly Conv1D c_proj;
#pragma warning restore IDE1006

    public Gpt2Mlp(Gpt2Config config) : base(nameof(Gpt2Mlp))
    {
        c_fc = new Conv1D(config.Embedding, 4 * config.Embedding);
        c_proj = new Conv1D(4 * config.Embedding, config.Embedding);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => c_proj.call(GeluNew(c_fc.call(x)));

    /// <summary>gelu_new, the tanh approximation GPT-2 was trained with: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    /// <remarks>
    /// The operations of <c>0.5 * x * (1 + tanh(√(2/π) * (x + 0.044715 * x.pow(3))))</c> in that order (the same bits), with
    /// long-lived Scalars: written with operators, every call made five Scalars that only the finalizer frees, and a
    /// pre-training's memory grew with them between collections (with <see cref="LmTraining"/>'s periodic collection,
    /// which is what keeps it flat).
    /// </remarks>
    public static Tensor GeluNew(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor inner = x.add(x.pow(Three).mul(Cubic)).mul(SqrtTwoOverPi);
        return x.mul(Half).mul(inner.tanh().add(One)).MoveToOuterDisposeScope();
    }

    private static readonly Scalar Three = 3, Cubic = 0.044715, SqrtTwoOverPi = Math.Sqrt(2 / Math.PI), Half = 0.5, One = 1.0;
}

public sealed class Gpt2Block : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly LayerNorm ln_1;
    private readonly Gpt2Attention attn;
    private readonly LayerNorm ln_2;
    private readonly Gpt2Mlp mlp;
#pragma warning restore IDE1006

    public Gpt2Block(Gpt2Config config) : base(nameof(Gpt2Block))
    {
        ln_1 = nn.LayerNorm(config.Embedding, config.LayerNormEpsilon);
        attn = new Gpt2Attention(config);
        ln_2 = nn.LayerNorm(config.Embedding, config.LayerNormEpsilon);
        mlp = new Gpt2Mlp(config);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, null, 0);

    internal Tensor Forward(Tensor x, Gpt2KvCache.Layer? cache, int start)
    {
        x = x + attn.Forward(ln_1.call(x), cache, start);
        return x + mlp.call(ln_2.call(x));
    }
}

/// <summary>
/// A GPT-2 decoder whose parameter names and shapes are Hugging Face's <c>GPT2LMHeadModel</c>
/// (<c>transformer.wte.weight</c>, <c>transformer.h.0.attn.c_attn.weight</c> [n_embd, 3·n_embd], …;
/// the language-model head is tied to <c>wte</c>), so the same code trains our small model and loads
/// a real GPT-2-family folder (<c>config.json</c> + safetensors, single or sharded).
/// </summary>
public sealed class Gpt2Model : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Gpt2Transformer transformer;
#pragma warning restore IDE1006

    public Gpt2Model(Gpt2Config config) : base(nameof(Gpt2Model))
    {
        Config = config;
        transformer = new Gpt2Transformer(config);
        RegisterComponents();
    }

    public Gpt2Config Config { get; }

    /// <summary>Logits <c>[batch, time, vocab]</c> for token ids <c>[batch, time]</c>.</summary>
    public override Tensor forward(Tensor tokens) => transformer.Head(transformer.Hidden(tokens, null));

    /// <summary>
    /// The final hidden states <c>[batch, time, n_embd]</c> (after <c>ln_f</c>), what the tied head turns
    /// into logits and what a value head reads (TRL's <c>AutoModelForCausalLMWithValueHead</c> reads the same).
    /// </summary>
    public Tensor Hidden(Tensor tokens) => transformer.Hidden(tokens, null);

    /// <summary>
    /// Hidden states of <paramref name="tokens"/> <c>[batch, t]</c> placed after what <paramref name="cache"/>
    /// holds, which then holds them too: the whole prompt first, then one token per call.
    /// </summary>
    public Tensor Hidden(Tensor tokens, Gpt2KvCache cache) => transformer.Hidden(tokens, cache);

    /// <summary>Logits <c>[…, vocab]</c> of hidden states <c>[…, n_embd]</c> (the head tied to <c>wte</c>).</summary>
    public Tensor Logits(Tensor hidden) => transformer.Head(hidden);

    /// <summary>An empty key/value cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> tokens.</summary>
    public Gpt2KvCache NewCache(long batch, int capacity)
    {
        if (capacity > Config.Positions)
            throw new SoupInputException($"a sequence of {capacity} tokens exceeds the model's n_positions {Config.Positions}");
        return new Gpt2KvCache(Config, batch, capacity, transformer.Device);
    }

    /// <summary>
    /// Loads a Hugging Face folder. Keys may carry the <c>transformer.</c> prefix (GPT2LMHeadModel) or
    /// not (GPT2Model, as the original gpt2 checkpoint); <c>lm_head.weight</c>, when present, must equal
    /// the tied embedding; the causal-mask buffers older checkpoints carry (<c>attn.bias</c>,
    /// <c>attn.masked_bias</c>) are ignored. A missing or mis-shaped tensor names itself and the folder.
    /// </summary>
    public static Gpt2Model Load(string folder)
    {
        var model = TorchRandom.Shared(() => new Gpt2Model(Gpt2Config.Load(folder)));
        using Checkpoint checkpoint = Checkpoint.Open(folder);
        bool prefixed = checkpoint.Tensors.Any(t => t.Name.StartsWith("transformer.", StringComparison.Ordinal));
        using var noGrad = no_grad();
        foreach ((string name, Tensor target) in model.state_dict())
        {
            string key = prefixed ? name : name["transformer.".Length..];
            if (!checkpoint.TryGet(key, out CheckpointTensor source))
                throw new SoupInputException($"{folder}: no tensor '{key}' (is this a GPT-2-family checkpoint?)");
            if (!source.Shape.AsSpan().SequenceEqual(target.shape))
                throw new SoupInputException($"{folder}: tensor '{key}' has shape {source.Info.ShapeText} but config.json implies {TensorInfo.FormatShape(target.shape)}");
            target.copy_(tensor(ModuleTensors.ReadFloats(source), target.shape));
        }
        return model;
    }

    private sealed class Gpt2Transformer : nn.Module
    {
#pragma warning disable IDE1006
        private readonly Embedding wte;
        private readonly Embedding wpe;
        private readonly ModuleList<Gpt2Block> h;
        private readonly LayerNorm ln_f;
#pragma warning restore IDE1006

        public Gpt2Transformer(Gpt2Config config) : base("transformer")
        {
            wte = nn.Embedding(config.VocabSize, config.Embedding);
            wpe = nn.Embedding(config.Positions, config.Embedding);
            h = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new Gpt2Block(config)).ToArray());
            ln_f = nn.LayerNorm(config.Embedding, config.LayerNormEpsilon);
            RegisterComponents();
        }

        public Device Device => wte.weight!.device;

        public Tensor Hidden(Tensor tokens, Gpt2KvCache? cache)
        {
            long t = tokens.shape[1];
            int start = cache?.Length ?? 0;
            if (cache is not null && (start + t > cache.Capacity || (start > 0 && t != 1)))
                throw new InvalidOperationException($"KV cache: {t} tokens after {start} (capacity {cache.Capacity}); feed the prompt first, then one token per call");
            using Scalar first = start.ToScalar(), end = (start + t).ToScalar();
            Tensor x = wte.call(tokens) + wpe.call(arange(first, end, dtype: int64, device: tokens.device)); // [b, t, c]
            for (int l = 0; l < h.Count; l++) x = h[l].Forward(x, cache?.Layers[l], start);
            if (cache is not null) cache.Length = start + (int)t;
            return ln_f.call(x);                                                                    // [b, t, c]
        }

        public Tensor Head(Tensor hidden) => hidden.matmul(wte.weight!.t());                       // tied head: [b, t, vocab]
    }
}

/// <summary>
/// Keys and values of every layer for a batch of sequences, preallocated to a capacity, so generating
/// a token costs one token's forward pass instead of the whole sequence's. Its tensors live until it is
/// disposed, whatever dispose scope the steps run in.
/// </summary>
public sealed class Gpt2KvCache : IDisposable
{
    internal Gpt2KvCache(Gpt2Config config, long batch, int capacity, Device device)
    {
        Capacity = capacity;
        long headSize = config.Embedding / config.Heads;
        Layers = new Layer[config.Layers];
        for (int l = 0; l < Layers.Length; l++)
        {
            Layers[l] = new Layer(
                zeros([batch, config.Heads, capacity, headSize], device: device).DetachFromDisposeScope(),   // [b, h, capacity, c/h]
                zeros([batch, config.Heads, capacity, headSize], device: device).DetachFromDisposeScope());
        }
    }

    public int Capacity { get; }

    /// <summary>Positions filled so far.</summary>
    public int Length { get; internal set; }

    internal Layer[] Layers { get; }

    internal sealed record Layer(Tensor Keys, Tensor Values);

    public void Dispose()
    {
        foreach (Layer layer in Layers)
        {
            layer.Keys.Dispose();
            layer.Values.Dispose();
        }
    }
}
