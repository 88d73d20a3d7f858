using Microsoft.ML.Tokenizers;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using RewardedSoups.Tasks.Text;
using static TorchSharp.torch;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// A tiny random GPT-2-layout model over a 16-letter alphabet (ids 0…15 = 'a'…'p') and a real
/// character-level BPE tokenizer for it (Microsoft.ML.Tokenizers, no merges), written as a Hugging Face
/// folder. The embedding is scaled down so the untrained model's next-token distribution is nearly
/// uniform, as a language model's is over tokens it has no reason to prefer.
/// </summary>
public static class TinyGpt
{
    private static readonly TorchSharp.Scalar Tenth = 0.1;

    public const int Vocab = 16;

    public static readonly Gpt2Config Config = new(VocabSize: Vocab, Positions: 32, Embedding: 32, Layers: 2, Heads: 4);

    public static Gpt2Model Create(int seed, Gpt2Config? config = null)
    {
        var model = TorchRandom.Seeded(seed, () => new Gpt2Model(config ?? Config));
        using var noGrad = no_grad();
        foreach ((string name, Tensor p) in model.named_parameters())
            if (name == "transformer.wte.weight") p.mul_(Tenth);
        return model;
    }

    /// <summary>Writes <paramref name="model"/> as config.json + model.safetensors in <paramref name="folder"/>.</summary>
    public static string Save(Gpt2Model model, string folder)
    {
        Directory.CreateDirectory(folder);
        SafetensorsWriter.WriteFile(Path.Combine(folder, "model.safetensors"), ModuleTensors.Export(model), new Dictionary<string, string> { ["format"] = "pt" });
        Gpt2Config c = model.Config;
        File.WriteAllText(Path.Combine(folder, "config.json"),
            $$"""{"model_type": "gpt2", "vocab_size": {{c.VocabSize}}, "n_positions": {{c.Positions}}, "n_embd": {{c.Embedding}}, "n_layer": {{c.Layers}}, "n_head": {{c.Heads}}, "activation_function": "gelu_new"}""");
        return folder;
    }

    public static Tokenizer Tokenizer() =>
        BpeTokenizer.Create(new BpeOptions(Enumerable.Range(0, Vocab).Select(i => new KeyValuePair<string, int>(((char)('a' + i)).ToString(), i))));
}
