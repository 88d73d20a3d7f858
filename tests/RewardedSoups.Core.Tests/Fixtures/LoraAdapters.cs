using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>PEFT adapter folders as TRL/PEFT write them, with random factors, for the adapter-soup tests.</summary>
public static class LoraAdapters
{
    /// <summary>Every adapted module's input and output width.</summary>
    public const int In = 7, Out = 5;

    /// <summary>The adapted modules (PEFT keys are <c>base_model.model.MODULE.lora_A.weight</c>).</summary>
    public static readonly string[] Modules = ["transformer.h.0.attn.c_attn", "transformer.h.1.mlp.c_fc"];

    /// <summary>
    /// An adapter folder of rank <paramref name="r"/>: random A and B for every module, a plain tensor
    /// (<c>score.weight</c>, as modules_to_save) when asked, and a config with <paramref name="extra"/> appended.
    /// </summary>
    public static string Write(string folder, int r, double alpha, int seed, bool rslora = false, bool fanInFanOut = false, bool plainTensor = false, string? extra = null)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var tensors = new List<(TensorSpec, byte[])>();
        foreach (string m in Modules)
        {
            float[] a = Enumerable.Range(0, r * In).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            float[] b = Enumerable.Range(0, Out * r).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            tensors.Add((new TensorSpec($"base_model.model.{m}.lora_A.weight", DType.F32, [r, In]), Synthetic.Encode(DType.F32, a)));
            tensors.Add((new TensorSpec($"base_model.model.{m}.lora_B.weight", DType.F32, [Out, r]), Synthetic.Encode(DType.F32, b)));
        }
        if (plainTensor) tensors.Add((new TensorSpec("base_model.model.score.weight", DType.F32, [2, 3]), Synthetic.Encode(DType.F32, [seed, 1, 2, 3, 4, 5])));
        Synthetic.Write(Path.Combine(folder, LoraSoup.ModelFile), tensors.ToArray());
        File.WriteAllText(Path.Combine(folder, LoraSoup.ConfigFile),
            $$"""{"peft_type": "LORA", "r": {{r}}, "lora_alpha": {{alpha}}, "use_rslora": {{(rslora ? "true" : "false")}}, "fan_in_fan_out": {{(fanInFanOut ? "true" : "false")}}, "target_modules": ["c_attn", "c_fc"], "base_model_name_or_path": "tiny-gpt2"{{extra}}}""");
        return folder;
    }
}
