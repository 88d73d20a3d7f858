using Microsoft.ML.Tokenizers;

namespace RewardedSoups.Learning.Text;

/// <summary>Tokenizers for the text task. GPT-2's byte-level BPE comes from Microsoft.ML.Tokenizers and its GPT-2 data package.</summary>
public static class TextTokenizers
{
    /// <summary>GPT-2's tokenizer (50,257 tokens; <c>&lt;|endoftext|&gt;</c> = 50256), as real GPT-2 checkpoints expect.</summary>
    public static Tokenizer Gpt2() => TiktokenTokenizer.CreateForModel("gpt2");
}
