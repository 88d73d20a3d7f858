using Microsoft.ML.Tokenizers;

namespace RewardedSoups.Tasks.Text;

/// <summary>A prompt of the text task: the beginning of a held-out review and the review's own continuation.</summary>
/// <param name="Tokens">The prompt's token ids: <c>&lt;|endoftext|&gt;</c> then the review's first tokens.</param>
/// <param name="Reference">The rest of the review as its tokens decode (with its leading space): prompt + reference is the review.</param>
/// <param name="Label">The review's sentiment label in the UCI data (1 positive, 0 negative).</param>
public sealed record ReviewPrompt(int[] Tokens, string Prompt, string Reference, int Label, string Source);

/// <summary>
/// The token streams and prompts of the text task, all deterministic functions of the installed data:
/// <list type="bullet">
/// <item>pre-training: the corpora asked for, in order: Brown's sentences joined by spaces, every 20th block of 100 sentences
/// held out for validation; Austen's paragraphs likewise, every 20th block of 20 paragraphs;</item>
/// <item>supervised stage: the UCI review sentences, each preceded by <c>&lt;|endoftext|&gt;</c>; reviews with index ≡ 4 (mod 5) are held out;</item>
/// <item>prompts: the first <c>promptTokens</c> tokens of a review (after <c>&lt;|endoftext|&gt;</c>), the rest its reference;
/// PPO trains on the training reviews' prompts, evaluation and the app use the held-out ones.</item>
/// </list>
/// </summary>
public sealed class TextTaskData
{
    public required int[] PretrainTrain { get; init; }
    public required int[] PretrainValid { get; init; }
    public required int[] SftTrain { get; init; }
    public required int[] SftValid { get; init; }
    public required IReadOnlyList<ReviewPrompt> TrainPrompts { get; init; }
    public required IReadOnlyList<ReviewPrompt> EvalPrompts { get; init; }

    /// <summary>Reviews shorter than the prompt plus this many tokens make no prompt (nothing to continue).</summary>
    public const int MinReferenceTokens = 4;

    /// <summary>Pre-training corpora by name: <c>brown</c> (the Brown corpus), <c>austen</c> (Jane Austen's six novels).</summary>
    public static IReadOnlyList<string> CorpusNames { get; } = ["brown", "austen"];

    /// <param name="corpora">Pre-training corpora, in order (<see cref="CorpusNames"/>); empty when no pre-training is asked (the streams are then empty).</param>
    public static TextTaskData Build(Tokenizer tokenizer, int endOfText, int promptTokens, IReadOnlyList<string> corpora)
    {
        if (promptTokens < 1) throw new SoupInputException($"prompt tokens must be ≥ 1, got {promptTokens}");
        var train = new List<int>();
        var valid = new List<int>();
        foreach (string corpus in corpora)
        {
            // Brown: blocks of 100 sentences; Austen: blocks of 20 paragraphs; every 20th block is validation.
            (IEnumerable<string> units, int perBlock) = corpus switch
            {
                "brown" => (Corpora.BrownSentences(), 100),
                "austen" => (Corpora.AustenParagraphs(), 20),
                _ => throw new SoupInputException($"pre-training corpus '{corpus}': the corpora are {string.Join(", ", CorpusNames)}"),
            };
            int index = 0;
            var block = new System.Text.StringBuilder();
            void Flush(int blockIndex)
            {
                if (block.Length == 0) return;
                (blockIndex % 20 == 19 ? valid : train).AddRange(tokenizer.EncodeToIds(block.ToString()));
                block.Clear();
            }
            foreach (string unit in units)
            {
                if (index % perBlock == 0) Flush(index / perBlock - 1);
                block.Append(block.Length == 0 ? "" : " ").Append(unit);
                index++;
            }
            Flush((index - 1) / perBlock);
        }

        var sftTrain = new List<int>();
        var sftValid = new List<int>();
        var trainPrompts = new List<ReviewPrompt>();
        var evalPrompts = new List<ReviewPrompt>();
        int r = 0;
        foreach (LabelledSentence review in Corpora.LabelledReviews())
        {
            bool heldOut = r++ % 5 == 4;
            IReadOnlyList<int> ids = tokenizer.EncodeToIds(review.Text);
            List<int> stream = heldOut ? sftValid : sftTrain;
            stream.Add(endOfText);
            stream.AddRange(ids);
            if (ids.Count < promptTokens + MinReferenceTokens) continue;
            int[] prompt = [endOfText, .. ids.Take(promptTokens)];
            string promptText = tokenizer.Decode(ids.Take(promptTokens));
            // Prompts travel as text; keep those whose text encodes back to exactly these tokens.
            if (!tokenizer.EncodeToIds("<|endoftext|>" + promptText).SequenceEqual(prompt)) continue;
            var p = new ReviewPrompt(prompt, promptText, tokenizer.Decode(ids.Skip(promptTokens)), review.Label, review.Source);
            (heldOut ? evalPrompts : trainPrompts).Add(p);
        }
        sftTrain.Add(endOfText);
        sftValid.Add(endOfText);
        return new TextTaskData
        {
            PretrainTrain = [.. train],
            PretrainValid = [.. valid],
            SftTrain = [.. sftTrain],
            SftValid = [.. sftValid],
            TrainPrompts = trainPrompts,
            EvalPrompts = evalPrompts,
        };
    }
}
