using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Soup;

public sealed class LoraSoupTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const int In = LoraAdapters.In, Out = LoraAdapters.Out;
    private static readonly string[] Modules = LoraAdapters.Modules.Select(m => "base_model.model." + m).ToArray();

    private string Adapter(string name, int r, double alpha, int seed, bool rslora = false, string? extra = null) =>
        LoraAdapters.Write(_dir.File(name), r, alpha, seed, rslora, plainTensor: true, extra: extra);

    private static double[,] Delta(string folder, string module, double scale)
    {
        using SafetensorsFile f = SafetensorsFile.Open(Path.Combine(folder, LoraSoup.ModelFile));
        float[] a = Synthetic.Decode(DType.F32, f.ReadAll($"{module}.lora_A.weight"));
        float[] b = Synthetic.Decode(DType.F32, f.ReadAll($"{module}.lora_B.weight"));
        int r = a.Length / In;
        var d = new double[Out, In];
        for (int o = 0; o < Out; o++)
            for (int i = 0; i < In; i++)
                for (int k = 0; k < r; k++)
                    d[o, i] += scale * b[o * r + k] * a[k * In + i];
        return d;
    }

    [Fact]
    public void Delta_DifferentRanks_ExactWeightSpaceSoupAsOneAdapter()
    {
        string a = Adapter("a", r: 2, alpha: 4, seed: 1), b = Adapter("b", r: 3, alpha: 6, seed: 2, rslora: true);
        string output = _dir.File("soup");
        LoraSoup.Merge([a, b], [0.3, 0.7], output, LoraMode.Delta);
        LoraConfig config = LoraSoup.ReadConfig(output);
        Assert.Equal(5, config.Rank);
        Assert.Equal(1.0, config.Scaling);
        foreach (string m in Modules)
        {
            double[,] got = Delta(output, m, 1.0), da = Delta(a, m, 4.0 / 2), db = Delta(b, m, 6.0 / Math.Sqrt(3));
            for (int o = 0; o < Out; o++)
                for (int i = 0; i < In; i++)
                    Assert.Equal(0.3 * da[o, i] + 0.7 * db[o, i], got[o, i], 5);
        }
        using SafetensorsFile soup = SafetensorsFile.Open(Path.Combine(output, LoraSoup.ModelFile));
        float[] score = Synthetic.Decode(DType.F32, soup.ReadAll("base_model.model.score.weight"));
        Assert.Equal(0.3 * 1 + 0.7 * 2, score[0], 5); // a plain tensor is averaged like full weights
        Assert.Equal("lora-delta", soup.Metadata["soup.method"]);
    }

    [Fact]
    public void Factors_EqualRanks_AveragesAAndBSeparately()
    {
        string a = Adapter("a", 4, 8, 1), b = Adapter("b", 4, 8, 2);
        string output = _dir.File("soup");
        LoraSoup.Merge([a, b], [0.25, 0.75], output, LoraMode.Factors);
        Assert.Equal(4, LoraSoup.ReadConfig(output).Rank);
        Assert.Equal("tiny-gpt2", JsonNode.Parse(File.ReadAllText(Path.Combine(output, LoraSoup.ConfigFile)))!["base_model_name_or_path"]!.GetValue<string>());
        string name = $"{Modules[0]}.lora_A.weight";
        using SafetensorsFile fa = SafetensorsFile.Open(Path.Combine(a, LoraSoup.ModelFile)), fb = SafetensorsFile.Open(Path.Combine(b, LoraSoup.ModelFile)), fs = SafetensorsFile.Open(Path.Combine(output, LoraSoup.ModelFile));
        float[] xa = Synthetic.Decode(DType.F32, fa.ReadAll(name)), xb = Synthetic.Decode(DType.F32, fb.ReadAll(name)), xs = Synthetic.Decode(DType.F32, fs.ReadAll(name));
        for (int i = 0; i < xs.Length; i++) Assert.Equal(0.25 * xa[i] + 0.75 * xb[i], xs[i], 6);
    }

    [Fact]
    public void Factors_VersusDelta_DifferInWeightSpace()
    {
        // Averaging factors gives (ΣλB)(ΣλA) ≠ ΣλBA: the reason the exact mode exists.
        string a = Adapter("a", 2, 2, 1), b = Adapter("b", 2, 2, 2);
        LoraSoup.Merge([a, b], [0.5, 0.5], _dir.File("f"), LoraMode.Factors);
        LoraSoup.Merge([a, b], [0.5, 0.5], _dir.File("d"), LoraMode.Delta);
        double[,] f = Delta(_dir.File("f"), Modules[0], 1.0), d = Delta(_dir.File("d"), Modules[0], 1.0);
        double diff = 0;
        for (int o = 0; o < Out; o++)
            for (int i = 0; i < In; i++) diff = Math.Max(diff, Math.Abs(f[o, i] - d[o, i]));
        Assert.True(diff > 1e-3, $"max difference {diff}");
    }

    [Fact]
    public void Factors_DifferentRanks_RefusedPointingToDelta()
    {
        string a = Adapter("a", 2, 4, 1), b = Adapter("b", 3, 6, 2);
        var e = Assert.Throws<SoupInputException>(() => LoraSoup.Merge([a, b], null, _dir.File("soup"), LoraMode.Factors));
        Assert.Contains("--lora-mode delta", e.Message);
        Assert.False(Directory.Exists(_dir.File("soup")));
    }

    [Fact]
    public void Merge_RankPattern_Refused()
    {
        string a = Adapter("a", 2, 4, 1, extra: ", \"rank_pattern\": {\"c_fc\": 8}"), b = Adapter("b", 2, 4, 2);
        var e = Assert.Throws<SoupInputException>(() => LoraSoup.Merge([a, b], null, _dir.File("soup"), LoraMode.Delta));
        Assert.Contains("'rank_pattern'", e.Message);
    }

    [Fact]
    public void Merge_DifferentTargets_Refused()
    {
        string a = Adapter("a", 2, 4, 1), b = Adapter("b", 2, 4, 2);
        string config = Path.Combine(b, LoraSoup.ConfigFile);
        File.WriteAllText(config, File.ReadAllText(config).Replace("[\"c_attn\", \"c_fc\"]", "[\"c_attn\"]"));
        var e = Assert.Throws<SoupInputException>(() => LoraSoup.Merge([a, b], null, _dir.File("soup"), LoraMode.Delta));
        Assert.Contains("target_modules", e.Message);
    }
}
