using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>LoRA on the GPT-2 layout: exact at init, mergeable, a real PEFT folder that LoraSoup soups.</summary>
[Collection(nameof(LmPpoTests))]
public sealed class Gpt2LoraTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static float[] Logits(Gpt2Model model)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return model.call(tensor(new long[] { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8 }, [2, 6])).data<float>().ToArray();
    }

    /// <summary>Gives every B random values, as training would, so the adapter changes the model.</summary>
    private static void Perturb(Gpt2Lora lora, int seed)
    {
        using var g = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var p in lora.Parameters().Where((_, i) => i % 2 == 1)) p.copy_(randn(p.shape, generator: g) * 0.1);
    }

    private static double MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Fact]
    public void Inject_AtInit_EqualsTheBaseExactly_AndFreezesIt()
    {
        using Gpt2Model model = TinyGpt.Create(1);
        float[] baseLogits = Logits(model);
        using var g = new Generator(1);
        using Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Rank = 4, Alpha = 8, Targets = ["c_attn", "c_proj", "c_fc"] }, g);
        Assert.Equal(baseLogits, Logits(model));
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj",
            "transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_fc", "transformer.h.1.mlp.c_proj"], lora.Modules);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        var factors = lora.Parameters().ToList();
        Assert.All(factors, p => Assert.True(p.requires_grad));
        Assert.Equal(new long[] { 4, 32 }, factors[0].shape);   // A of c_attn: [r, in]
        Assert.Equal(new long[] { 96, 4 }, factors[1].shape);   // B of c_attn: [out, r]
        Assert.Equal(0f, factors[1].abs().max().item<float>());
        // Kaiming-uniform with a = √5: U(−1/√in, 1/√in), spread over the range.
        float maxA = factors[0].abs().max().item<float>();
        Assert.InRange(maxA, 0.8 / Math.Sqrt(32), 1 / Math.Sqrt(32));
        Assert.Equal(2.0, lora.Scaling);
    }

    [Fact]
    public void Merged_EqualsTheLiveAdapter_AndDisabledIsTheBase()
    {
        using Gpt2Model model = TinyGpt.Create(2);
        float[] baseLogits = Logits(model);
        using var g = new Generator(2);
        using Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Targets = ["c_attn", "c_fc"] }, g);
        Perturb(lora, 3);
        float[] live = Logits(model);
        Assert.True(MaxDifference(live, baseLogits) > 0.05, "the adapter changes the model");
        using (lora.Disable()) Assert.Equal(baseLogits, Logits(model));
        Assert.True(lora.Enabled);
        lora.MergeAndUnload();
        float[] merged = Logits(model);
        Assert.True(MaxDifference(live, merged) < 1e-4, $"merged vs live: {MaxDifference(live, merged)}");
    }

    [Fact]
    public void SaveLoad_IsAPeftFolder_AndRoundTrips()
    {
        using Gpt2Model model = TinyGpt.Create(3);
        string baseFolder = TinyGpt.Save(model, _dir.File("base"));
        using var g = new Generator(3);
        string folder = _dir.File("adapter");
        float[] live;
        using (Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Rank = 2, Alpha = 5, Targets = ["c_attn"] }, g))
        {
            Perturb(lora, 4);
            live = Logits(model);
            lora.Save(folder, "tiny-base");
        }
        using (Gpt2Model reloaded = Gpt2Model.Load(baseFolder))
            Assert.Equal(Logits(reloaded), Logits(model)); // disposing the adapter detaches it

        LoraConfig config = LoraSoup.ReadConfig(folder);
        Assert.Equal((2, 5.0, false), (config.Rank, config.Alpha, config.RsLora));
        JsonObject json = config.Json;
        Assert.Equal("LORA", json["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", json["task_type"]!.GetValue<string>());
        Assert.True(json["fan_in_fan_out"]!.GetValue<bool>());
        Assert.Equal("none", json["bias"]!.GetValue<string>());
        Assert.Equal("tiny-base", json["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal("""["c_attn"]""", json["target_modules"]!.ToJsonString());
        using (Checkpoint c = Checkpoint.Open(Path.Combine(folder, LoraSoup.ModelFile)))
        {
            Assert.Equal(["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"],
                c.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
            Assert.True(c.TryGet("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight", out CheckpointTensor b));
            Assert.Equal(new long[] { 96, 2 }, b.Shape);
        }

        using Gpt2Model fresh = Gpt2Model.Load(baseFolder);
        using Gpt2Lora loaded = Gpt2Lora.Load(fresh, folder);
        Assert.Equal(live, Logits(fresh));
    }

    [Fact]
    public void LoraSoup_OfTwoTrainedAdapters_LoadsInBothModes()
    {
        using Gpt2Model model = TinyGpt.Create(4);
        string baseFolder = TinyGpt.Save(model, _dir.File("base"));
        var settings = new LoraSettings { Rank = 3, Alpha = 6, Targets = ["c_attn", "c_proj"] };
        var expected = new List<float[]>();
        var deltas = new List<Tensor>(); // s·(B·A)ᵀ of h.0.attn.c_attn, [in, out]
        for (int k = 0; k < 2; k++)
        {
            using var g = new Generator((ulong)(10 + k));
            using Gpt2Lora lora = Gpt2Lora.Inject(model, settings, g);
            Perturb(lora, 20 + k);
            expected.Add(Logits(model));
            var p = lora.Parameters().ToList();
            deltas.Add((p[1].matmul(p[0]).t() * lora.Scaling).detach().clone());
            lora.Save(_dir.File($"adapter-{k}"), baseFolder);
        }
        string[] inputs = [_dir.File("adapter-0"), _dir.File("adapter-1")];

        // Factors with one-hot weights give the second adapter back.
        LoraSoup.Merge(inputs, [0, 1], _dir.File("soup-factors"), LoraMode.Factors);
        using (Gpt2Model m = Gpt2Model.Load(baseFolder))
        using (Gpt2Lora soup = Gpt2Lora.Load(m, _dir.File("soup-factors")))
            Assert.Equal(expected[1], Logits(m));

        // Delta mode: rank 6, lora_alpha 6, and the merged weight is W₀ + Σ λᵢ sᵢ (BᵢAᵢ)ᵀ.
        LoraSoup.Merge(inputs, [0.3, 0.7], _dir.File("soup-delta"), LoraMode.Delta);
        using Gpt2Model mixed = Gpt2Model.Load(baseFolder);
        using Gpt2Lora delta = Gpt2Lora.Load(mixed, _dir.File("soup-delta"));
        Assert.Equal((6, 6.0, 1.0), (delta.Rank, delta.Alpha, delta.Scaling));
        float[] deltaLogits = Logits(mixed);
        delta.MergeAndUnload();
        Assert.True(MaxDifference(deltaLogits, Logits(mixed)) < 1e-4);
        Tensor w0 = model.state_dict()["transformer.h.0.attn.c_attn.weight"];
        Tensor w = mixed.state_dict()["transformer.h.0.attn.c_attn.weight"];
        Tensor want = w0 + 0.3 * deltas[0] + 0.7 * deltas[1];
        Assert.True(allclose(w, want, rtol: 1e-5, atol: 1e-6), $"max difference {(w - want).abs().max().item<float>()}");
    }

    [Fact]
    public void Load_AdapterThatDoesNotFit_NamesTheProblem()
    {
        using Gpt2Model model = TinyGpt.Create(5);
        string folder = _dir.File("adapter");
        using (var g = new Generator(5))
        using (Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Rank = 2, Targets = ["c_fc"] }, g))
            lora.Save(folder, null);

        using Gpt2Model wider = TinyGpt.Create(5, TinyGpt.Config with { Embedding = 16 });
        var e = Assert.Throws<SoupInputException>(() => Gpt2Lora.Load(wider, folder));
        Assert.Contains("tensor 'base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight' has shape [2, 32] but r = 2 on transformer.h.0.mlp.c_fc needs [2, 16]", e.Message);

        string config = Path.Combine(folder, LoraSoup.ConfigFile);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"c_fc\"", "\"q_proj\""));
        e = Assert.Throws<SoupInputException>(() => Gpt2Lora.Load(model, folder));
        Assert.Equal("lora: target 'q_proj' matches no Conv1D layer of the model (GPT-2's are c_attn, c_proj, c_fc)", e.Message);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"q_proj\"", "\"c_attn\""));
        e = Assert.Throws<SoupInputException>(() => Gpt2Lora.Load(model, folder));
        Assert.Contains("no tensor 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'", e.Message);
        using Gpt2Model same = TinyGpt.Create(5);
        Assert.Equal(Logits(same), Logits(model)); // a failed load leaves no adapter behind
    }

    [Fact]
    public void LoraSettings_BadValues_NameTheSetting()
    {
        Assert.Equal("'lora.rank': expected a whole number ≥ 1, got 0", Assert.Throws<SoupInputException>(() => new LoraSettings { Rank = 0 }.Validate()).Message);
        Assert.Contains("alpha", Assert.Throws<SoupInputException>(() => new LoraSettings { Alpha = double.NaN }.Validate()).Message);
        Assert.Contains("dropout", Assert.Throws<SoupInputException>(() => new LoraSettings { Dropout = 1 }.Validate()).Message);
        Assert.Contains("'lora.targets': is empty", Assert.Throws<SoupInputException>(() => new LoraSettings { Targets = [] }.Validate()).Message);
    }
}
