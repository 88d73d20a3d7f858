using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The reward terms of the text task, scored on a continuation of a review's beginning:
/// <list type="bullet">
/// <item><c>positivity</c>: the AFINN-165 valence sum of the continuation (the npm package <c>sentiment</c>'s,
/// ported in <see cref="AfinnSentiment"/>) over its word count, counted as at least <see cref="PositivityFloor"/>
/// words (<see cref="Positivity"/>): a long bland text is not rewarded for its length, nor a review ended at once
/// on one glowing word for its brevity;</item>
/// <item><c>faithfulness</c>: what the continuation adds to the prompt, against what the real continuation
/// adds, in all-MiniLM-L6-v2's space (<see cref="Faithfulness.Added"/>): 0 for an empty continuation, 1 for
/// the real one, short continuations counted in proportion to a length floor.</item>
/// </list>
/// Why they conflict: about half of the prompts begin negative reviews whose true continuation is
/// negative, so staying close to it costs positivity, and a glowing continuation drifts from it —
/// the spirit of the paper's quality-versus-faithfulness pair.
/// </summary>
public sealed class TextRewards : IDisposable
{
    public static IReadOnlyList<string> Terms { get; } = ["positivity", "faithfulness"];

    /// <summary>The named rewards: one per term, the experts' pair.</summary>
    public static IReadOnlyList<RewardFunction> Named { get; } =
    [
        new("positive", new Dictionary<string, double> { ["positivity"] = 1 }),
        new("faithful", new Dictionary<string, double> { ["faithfulness"] = 1 }),
    ];

    private readonly AfinnSentiment _sentiment = AfinnSentiment.Load();
    private readonly Faithfulness _faithfulness = new();

    /// <summary>Term values <c>[sample][term]</c> in <see cref="Terms"/> order, for continuations of <paramref name="prompts"/>.</summary>
    public double[][] Score(IReadOnlyList<string> prompts, IReadOnlyList<string> continuations, IReadOnlyList<string> references, CancellationToken cancel = default)
    {
        if (prompts.Count != continuations.Count || references.Count != continuations.Count)
            throw new ArgumentException($"{prompts.Count} prompts, {continuations.Count} continuations, {references.Count} references");
        continuations = continuations.Select(Review).ToList();
        double[] faithful = _faithfulness.Added(prompts, continuations, references, cancel);
        return continuations.Select((c, i) => new[] { Positivity(c), faithful[i] }).ToArray();
    }

    /// <summary>
    /// Words a continuation's valence is divided by at least. Without a floor the score is sentiment's comparative
    /// (valence over words), and the positive expert on the built-in base learnt to end every review at once on one
    /// word ("good. ∎": 3 per word, against about 1 for a full, glowing continuation; 2026-12-03, docs/text.md). Eight
    /// words is below the length of a continuation that runs to the sampler's 12–16 tokens, so those keep their
    /// comparative score exactly, and a review ended after k &lt; 8 words counts in proportion, k / 8.
    /// </summary>
    public const int PositivityFloor = 8;

    /// <summary>The positivity term of a review's continuation: AFINN-165 valence sum / max(words, <see cref="PositivityFloor"/>).</summary>
    public double Positivity(string continuation)
    {
        (int score, _) = _sentiment.Analyze(continuation);
        int words = AfinnSentiment.Tokenize(continuation).Count(t => t.Length > 0);
        return (double)score / Math.Max(words, PositivityFloor);
    }

    /// <summary>
    /// The part of a sampled continuation that belongs to the review: everything before the first
    /// <c>&lt;|endoftext|&gt;</c>. Responses are sampled at a fixed length (as in TRL's RLHF), so a model
    /// that ends the review goes on writing the next document; that text is not part of this review and
    /// neither reward sees it.
    /// </summary>
    public static string Review(string continuation)
    {
        int end = continuation.IndexOf(TextTokenizers.EndOfText, StringComparison.Ordinal);
        return end < 0 ? continuation : continuation[..end];
    }

    /// <summary>
    /// A prompt and its continuation as one text: concatenated, as the tokens decode (GPT-2 tokens carry
    /// their leading space; a prompt cut inside a word, "Good case, Ex", continues it: "cellent").
    /// </summary>
    public static string Join(string prompt, string continuation) => prompt + continuation;

    /// <summary>One reward's value per sample from term values.</summary>
    public static double[] Apply(RewardFunction reward, double[][] terms)
    {
        float[] w = reward.Resolve(Terms);
        return terms.Select(t => t.Select((v, k) => v * w[k]).Sum()).ToArray();
    }

    public void Dispose() => _faithfulness.Dispose();
}
