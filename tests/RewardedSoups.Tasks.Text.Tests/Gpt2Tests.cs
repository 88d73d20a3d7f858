using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>The GPT-2 layout: a tiny Hugging Face folder written here loads, and computes what GPT-2's equations say.</summary>
public sealed class Gpt2Tests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const int V = 11, P = 16, C = 8, L = 2, H = 2;

    /// <summary>Random weights under the original gpt2 checkpoint's keys (no "transformer." prefix), plus a mask buffer to ignore.</summary>
    private static Dictionary<string, (long[] Shape, double[] Values)> Weights(int seed)
    {
        var random = new Random(seed);
        var w = new Dictionary<string, (long[], double[])>();
        void Add(string name, params long[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            bool norm = name.Contains("ln_") && name.EndsWith("weight");
            w[name] = (shape, Enumerable.Range(0, (int)n).Select(_ => norm ? 1 + 0.1 * (random.NextDouble() - 0.5) : 0.3 * (random.NextDouble() - 0.5)).ToArray());
        }
        Add("wte.weight", V, C);
        Add("wpe.weight", P, C);
        for (int l = 0; l < L; l++)
        {
            Add($"h.{l}.ln_1.weight", C); Add($"h.{l}.ln_1.bias", C);
            Add($"h.{l}.attn.c_attn.weight", C, 3 * C); Add($"h.{l}.attn.c_attn.bias", 3 * C);
            Add($"h.{l}.attn.c_proj.weight", C, C); Add($"h.{l}.attn.c_proj.bias", C);
            Add($"h.{l}.ln_2.weight", C); Add($"h.{l}.ln_2.bias", C);
            Add($"h.{l}.mlp.c_fc.weight", C, 4 * C); Add($"h.{l}.mlp.c_fc.bias", 4 * C);
            Add($"h.{l}.mlp.c_proj.weight", 4 * C, C); Add($"h.{l}.mlp.c_proj.bias", C);
            Add($"h.{l}.attn.bias", 1, 1, P, P);
        }
        Add("ln_f.weight", C); Add("ln_f.bias", C);
        return w;
    }

    private string Folder(Dictionary<string, (long[] Shape, double[] Values)> w, string name = "gpt2-tiny")
    {
        string folder = _dir.File(name);
        Directory.CreateDirectory(folder);
        Synthetic.Write(Path.Combine(folder, "model.safetensors"),
            w.Select(kv => (new TensorSpec(kv.Key, DType.F32, kv.Value.Shape), Synthetic.Encode(DType.F32, kv.Value.Values.Select(v => (float)v).ToArray()))).ToArray(),
            new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(folder, "config.json"),
            $$"""{"model_type": "gpt2", "vocab_size": {{V}}, "n_positions": {{P}}, "n_embd": {{C}}, "n_layer": {{L}}, "n_head": {{H}}, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}""");
        return folder;
    }

    /// <summary>GPT-2's forward pass written out in doubles, independently of TorchSharp.</summary>
    private static double[,] Reference(Dictionary<string, (long[] Shape, double[] V)> w, int[] tokens)
    {
#pragma warning disable IDE1006 // T tokens, D head width: the maths' names, like the constants C and H
        int T = tokens.Length, D = C / H;
#pragma warning restore IDE1006
        double[] W(string n) => w[n].V;
        var x = new double[T, C];
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) x[t, c] = W("wte.weight")[tokens[t] * C + c] + W("wpe.weight")[t * C + c];
        double[,] Norm(double[,] a, string p)
        {
            var o = new double[T, C];
            for (int t = 0; t < T; t++)
            {
                double mean = 0, var = 0;
                for (int c = 0; c < C; c++) mean += a[t, c] / C;
                for (int c = 0; c < C; c++) var += (a[t, c] - mean) * (a[t, c] - mean) / C;
                for (int c = 0; c < C; c++) o[t, c] = (a[t, c] - mean) / Math.Sqrt(var + 1e-5) * W(p + ".weight")[c] + W(p + ".bias")[c];
            }
            return o;
        }
        double[,] Affine(double[,] a, string p, int inDim, int outDim)
        {
            var o = new double[T, outDim];
            for (int t = 0; t < T; t++)
                for (int j = 0; j < outDim; j++)
                {
                    double s = W(p + ".bias")[j];
                    for (int i = 0; i < inDim; i++) s += a[t, i] * W(p + ".weight")[i * outDim + j];
                    o[t, j] = s;
                }
            return o;
        }
        for (int l = 0; l < L; l++)
        {
            double[,] qkv = Affine(Norm(x, $"h.{l}.ln_1"), $"h.{l}.attn.c_attn", C, 3 * C);
            var y = new double[T, C];
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                {
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        for (int d = 0; d < D; d++) scores[s] += qkv[t, h * D + d] * qkv[s, C + h * D + d];
                        scores[s] /= Math.Sqrt(D);
                    }
                    double max = scores.Max(), z = scores.Sum(v => Math.Exp(v - max));
                    for (int s = 0; s <= t; s++)
                        for (int d = 0; d < D; d++) y[t, h * D + d] += Math.Exp(scores[s] - max) / z * qkv[s, 2 * C + h * D + d];
                }
            double[,] proj = Affine(y, $"h.{l}.attn.c_proj", C, C);
            for (int t = 0; t < T; t++) for (int c = 0; c < C; c++) x[t, c] += proj[t, c];
            double[,] f = Affine(Norm(x, $"h.{l}.ln_2"), $"h.{l}.mlp.c_fc", C, 4 * C);
            for (int t = 0; t < T; t++)
                for (int j = 0; j < 4 * C; j++)
                {
                    double v = f[t, j];
                    f[t, j] = 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                }
            double[,] m = Affine(f, $"h.{l}.mlp.c_proj", 4 * C, C);
            for (int t = 0; t < T; t++) for (int c = 0; c < C; c++) x[t, c] += m[t, c];
        }
        double[,] final = Norm(x, "ln_f");
        var logits = new double[T, V];
        for (int t = 0; t < T; t++)
            for (int v = 0; v < V; v++)
                for (int c = 0; c < C; c++) logits[t, v] += final[t, c] * W("wte.weight")[v * C + c];
        return logits;
    }

    [Fact]
    public void Load_HuggingFaceFolder_LogitsMatchTheEquations()
    {
        var w = Weights(1);
        using Gpt2Model model = Gpt2Model.Load(Folder(w));
        int[] tokens = [1, 5, 3, 7, 10, 0];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        float[] got = model.call(tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length])).data<float>().ToArray();
        double[,] expected = Reference(w, tokens);
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < V; v++)
                Assert.Equal(expected[t, v], got[t * V + v], 4);
    }

    [Fact]
    public void ExportedStateDict_IsGpt2LMHeadModelLayout_AndLoadsBack()
    {
        using Gpt2Model original = Gpt2Model.Load(Folder(Weights(2)));
        var tensors = ModuleTensors.Export(original);
        Assert.Contains(tensors, t => t.Spec.Name == "transformer.h.1.attn.c_attn.weight" && t.Spec.Shape.SequenceEqual(new long[] { C, 3 * C }));
        Assert.Contains(tensors, t => t.Spec.Name == "transformer.wte.weight");
        string folder = _dir.File("exported");
        Directory.CreateDirectory(folder);
        Synthetic.Write(Path.Combine(folder, "model.safetensors"), tensors.ToArray());
        File.Copy(Path.Combine(_dir.File("gpt2-tiny"), "config.json"), Path.Combine(folder, "config.json"));
        using Gpt2Model reloaded = Gpt2Model.Load(folder);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor tokens = tensor(new long[] { 3, 1, 4, 1, 5 }, [1, 5]);
        Assert.True(allclose(original.call(tokens), reloaded.call(tokens)));
    }

    [Fact]
    public void Load_MissingOrMisShapedTensor_NamesIt()
    {
        var w = Weights(3);
        w.Remove("h.1.mlp.c_fc.bias");
        var e = Assert.Throws<SoupInputException>(() => Gpt2Model.Load(Folder(w, "missing")));
        Assert.Contains("no tensor 'h.1.mlp.c_fc.bias'", e.Message);
        var w2 = Weights(3);
        w2["wpe.weight"] = ([P + 1, C], new double[(P + 1) * C]);
        var e2 = Assert.Throws<SoupInputException>(() => Gpt2Model.Load(Folder(w2, "shape")));
        Assert.Contains("tensor 'wpe.weight' has shape [17, 8] but config.json implies [16, 8]", e2.Message);
    }
}
