using RewardedSoups.Learning;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// A residual block of DDPM's U-Net: GroupNorm → SiLU → 3×3 conv, plus a projection of the (time +
/// class) embedding added per channel, GroupNorm → SiLU → 3×3 conv, and a 1×1 skip when the
/// channel count changes.
/// </summary>
public sealed class ResBlock : nn.Module
{
#pragma warning disable IDE1006 // PyTorch-style names are the checkpoint keys
    private readonly GroupNorm norm1;
    private readonly Conv2d conv1;
    private readonly Linear emb_proj;
    private readonly GroupNorm norm2;
    private readonly Conv2d conv2;
    private readonly Conv2d? skip;
#pragma warning restore IDE1006

    public ResBlock(int input, int output, int embedding) : base(nameof(ResBlock))
    {
        norm1 = Norm(input);
        conv1 = nn.Conv2d(input, output, 3, padding: 1);
        emb_proj = nn.Linear(embedding, output);
        norm2 = Norm(output);
        conv2 = nn.Conv2d(output, output, 3, padding: 1);
        if (input != output) skip = nn.Conv2d(input, output, 1);
        RegisterComponents();
    }

    /// <summary><c>[b, in, h, w]</c> and embedding <c>[b, e]</c> → <c>[b, out, h, w]</c>.</summary>
    public Tensor Forward(Tensor x, Tensor emb)
    {
        Tensor h = conv1.call(nn.functional.silu(norm1.call(x)));
        h = h + emb_proj.call(nn.functional.silu(emb)).unsqueeze(-1).unsqueeze(-1);   // [b, out, 1, 1] broadcast
        h = conv2.call(nn.functional.silu(norm2.call(h)));
        return h + (skip is null ? x : skip.call(x));
    }

    /// <summary>
    /// GroupNorm with 8 groups (fewer for narrow layers: they must divide the channels), its affine
    /// parameters set to PyTorch's defaults (1, 0) explicitly: TorchSharp 0.107 leaves them uninitialised.
    /// </summary>
    internal static GroupNorm Norm(int channels)
    {
        var norm = nn.GroupNorm(channels % 8 == 0 ? 8 : channels % 4 == 0 ? 4 : 1, channels);
        using var noGrad = no_grad();
        norm.weight!.fill_(Scalars.One);
        norm.bias!.zero_();
        return norm;
    }
}

/// <summary>
/// The class-conditioned ε-prediction U-Net for 28 × 28 grey images, at two resolutions (28 and 14):
/// <code>
/// conv_in → down0 (C, 28²) → downsample → down1 (2C, 14²) → mid (2C) → up1 (+down1 skip, 2C)
///         → upsample → up0 (+down0 skip, C, 28²) → out_norm → SiLU → conv_out (1 channel)
/// </code>
/// The embedding added in every block is time_mlp(sinusoid(t)) + class_emb(y), where class
/// <see cref="NullClass"/> (= 10) is "no prompt": label dropout during training teaches it, and
/// classifier-free guidance mixes the two predictions. Field names are the state-dict keys
/// (<c>down0.conv1.weight</c>, <c>class_emb.weight</c>, …) and never change with the settings, so two
/// fine-tuned copies average tensor by tensor (<c>soup merge</c>) into a model of the same shape.
/// <c>conv_out</c> starts at zero, so the untrained model predicts ε = 0 (DDPM's and ADM's choice).
/// </summary>
public sealed class DiffusionUNet : nn.Module
{
    /// <summary>The class index meaning "unconditional".</summary>
    public const int NullClass = FashionMnist.Classes;

    /// <summary><see cref="NullClass"/> as a Scalar held for good (a temporary one can be finalized during the native call: KeptAliveAdam).</summary>
    internal static readonly Scalar NullLabel = NullClass;

#pragma warning disable IDE1006
    private readonly Sequential time_mlp;
    private readonly Embedding class_emb;
    private readonly Conv2d conv_in;
    private readonly ResBlock down0;
    private readonly Conv2d downsample;
    private readonly ResBlock down1;
    private readonly ResBlock mid;
    private readonly ResBlock up1;
    private readonly ConvTranspose2d upsample;
    private readonly ResBlock up0;
    private readonly GroupNorm out_norm;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006

    /// <summary>Convolutions through libtorch's im2col + BLAS kernels, never oneDNN's: see <see cref="ConvolutionKernels"/>.</summary>
    static DiffusionUNet() => ConvolutionKernels.UseReferenceKernels();

    public DiffusionUNet(int channels) : base(nameof(DiffusionUNet))
    {
        if (channels < 4 || channels % 4 != 0)
            throw new SoupInputException($"U-Net channels must be a positive multiple of 4, got {channels}");
        Channels = channels;
        int c = channels, e = 4 * channels;
        time_mlp = nn.Sequential(("0", nn.Linear(c, e)), ("1", nn.SiLU()), ("2", nn.Linear(e, e)));
        class_emb = nn.Embedding(FashionMnist.Classes + 1, e);
        conv_in = nn.Conv2d(1, c, 3, padding: 1);
        down0 = new ResBlock(c, c, e);
        downsample = nn.Conv2d(c, c, 3, stride: 2, padding: 1);                 // 28 → 14
        down1 = new ResBlock(c, 2 * c, e);
        mid = new ResBlock(2 * c, 2 * c, e);
        up1 = new ResBlock(4 * c, 2 * c, e);
        upsample = nn.ConvTranspose2d(2 * c, 2 * c, 4, stride: 2, padding: 1);  // 14 → 28
        up0 = new ResBlock(3 * c, c, e);
        out_norm = ResBlock.Norm(c);
        conv_out = nn.Conv2d(c, 1, 3, padding: 1);
        using (no_grad())
        {
            conv_out.weight!.zero_();
            conv_out.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>Base channel count C (the 14² level has 2C).</summary>
    public int Channels { get; }

    /// <summary>ε̂ <c>[b, 1, 28, 28]</c> for noisy images <c>[b, 1, 28, 28]</c>, timesteps <c>[b]</c> (float) and classes <c>[b]</c> (int64, 10 = none).</summary>
    public Tensor Forward(Tensor x, Tensor t, Tensor y)
    {
        Tensor emb = time_mlp.call(Sinusoid(t, Channels).to(x.dtype)) + class_emb.call(y);   // [b, 4C] (a no-op cast but for the float64 kernel check)
        Tensor h0 = down0.Forward(conv_in.call(x), emb);                         // [b, C, 28, 28]
        Tensor h1 = down1.Forward(downsample.call(h0), emb);                      // [b, 2C, 14, 14]
        Tensor h = mid.Forward(h1, emb);                                          // [b, 2C, 14, 14]
        h = up1.Forward(cat([h, h1], 1), emb);                                    // [b, 2C, 14, 14]
        h = up0.Forward(cat([upsample.call(h), h0], 1), emb);                     // [b, C, 28, 28]
        return conv_out.call(nn.functional.silu(out_norm.call(h)));               // [b, 1, 28, 28]
    }

    /// <summary>Transformer-style sinusoidal features <c>[b, dim]</c> of timesteps <c>[b]</c>.</summary>
    private static Tensor Sinusoid(Tensor t, int dim)
    {
        int half = dim / 2;
        using Scalar stop = half.ToScalar();
        Tensor freqs = exp(arange(stop, dtype: float32) * (-Math.Log(10000.0) / half));   // [half]
        Tensor args = t.to(float32).unsqueeze(1) * freqs.unsqueeze(0);                    // [b, half]
        return cat([sin(args), cos(args)], 1);
    }

    /// <summary>
    /// Checks once, before training or sampling, that this machine computes the model right: a loss on
    /// four fixed noisy images (one of them unconditional) and its gradients against float64 (see
    /// <see cref="KernelCheck"/>). Leaves weights, gradients and random streams as they were.
    /// </summary>
    public static void CheckKernels(DiffusionUNet model)
    {
        KernelCheck.Verify(model, () => new DiffusionUNet(model.Channels), (m, dtype) =>
        {
            var generator = new Generator(0x5EED_C0DEUL);
            Tensor x = randn([4, 1, FashionMnist.Side, FashionMnist.Side], generator: generator).to(dtype);   // [4, 1, 28, 28]
            Tensor target = randn([4, 1, FashionMnist.Side, FashionMnist.Side], generator: generator).to(dtype);
            Tensor t = tensor(new float[] { 10, 300, 600, 950 });
            Tensor y = tensor(new long[] { 0, 4, 9, NullClass });
            return (m.Forward(x, t, y) - target).square().mean();
        }, "the diffusion U-Net");
    }

    /// <summary>Number of parameters whose state-dict name starts with one of <paramref name="prefixes"/> (all when empty).</summary>
    public long ParameterCount(IReadOnlyList<string>? prefixes = null) =>
        named_parameters().Where(p => Selected(p.name, prefixes)).Sum(p => p.parameter.numel());

    /// <summary>Whether a parameter is in the declared trainable subset (every parameter when the subset is empty).</summary>
    public static bool Selected(string name, IReadOnlyList<string>? prefixes) =>
        prefixes is null || prefixes.Count == 0 || prefixes.Any(p => name == p || name.StartsWith(p + ".", StringComparison.Ordinal));

    /// <summary>The top-level module names, the units a trainable subset is declared in.</summary>
    public static IReadOnlyList<string> ModuleNames { get; } =
        ["time_mlp", "class_emb", "conv_in", "down0", "downsample", "down1", "mid", "up1", "upsample", "up0", "out_norm", "conv_out"];
}
