using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The reward terms of the text task, scored on a continuation of a review's beginning:
/// <list type="bullet">
/// <item><c>positivity</c>: the AFINN-165 comparative score of the continuation (the npm package
/// <c>sentiment</c>'s, ported in <see cref="AfinnSentiment"/>): valence sum over the token count, so
/// a long bland text is not rewarded for its length;</item>
/// <item><c>faithfulness</c>: cosine similarity between the continuation and the review's own
/// continuation in all-MiniLM-L6-v2's space (<see cref="Faithfulness"/>).</item>
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

    /// <summary>Term values <c>[sample][term]</c> in <see cref="Terms"/> order.</summary>
    public double[][] Score(IReadOnlyList<string> continuations, IReadOnlyList<string> references, CancellationToken cancel = default)
    {
        double[] faithful = _faithfulness.Score(continuations, references, cancel);
        return continuations.Select((c, i) => new[] { _sentiment.Analyze(c).Comparative, faithful[i] }).ToArray();
    }

    /// <summary>One reward's value per sample from term values.</summary>
    public static double[] Apply(RewardFunction reward, double[][] terms)
    {
        float[] w = reward.Resolve(Terms);
        return terms.Select(t => t.Select((v, k) => v * w[k]).Sum()).ToArray();
    }

    public void Dispose() => _faithfulness.Dispose();
}
