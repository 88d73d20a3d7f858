using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// The image task's reward terms, one value per generated image, and the named rewards built on them.
/// <list type="bullet">
/// <item><c>fidelity</c> ∈ [0, 1]: the frozen classifier's probability that the image shows the prompted
/// class (the "does it follow the prompt" reward, as an image-text alignment model in the paper).</item>
/// <item><c>minimalism</c> ∈ [0, 1]: 1 − ink coverage (the mean pixel intensity: 0 background, 1 full ink)
/// while the classifier still recognises the prompted garment (its top class is the prompt), 0 otherwise:
/// a preference for sparse, light drawings of the garment asked for.</item>
/// <item><c>lightness</c> ∈ [0, 1]: 1 − ink coverage, ungated (what <c>minimalism</c> was until 2026-12-03).</item>
/// </list>
/// Why minimalism is gated: ungated, an empty canvas is the best drawing; the built-in minimalism expert
/// learnt exactly that (lightness 0.997, fidelity at chance) and every soup with λ₁ ≤ 0.5 was blank
/// (docs/images.md, "Minimalism without blank canvases").
/// They conflict because a garment is recognisable by its filled silhouette: the classifier is most
/// confident on full, solid shapes (a coat, a pullover, a bag are large blocks of ink), while removing
/// ink thins, fades and shrinks the shape until the class is ambiguous. The fidelity expert draws
/// fuller, more typical shapes; the minimalism expert draws faint outlines. The measured conflict is in
/// docs/images.md.
/// </summary>
public static class ImageRewards
{
    public const string Fidelity = "fidelity";
    public const string Minimalism = "minimalism";
    public const string Lightness = "lightness";

    /// <summary>The terms, in the order <see cref="Terms(FashionClassifier, ReadOnlySpan{float}, IReadOnlyList{int})"/> writes them.</summary>
    public static IReadOnlyList<string> TermNames { get; } = [Fidelity, Minimalism, Lightness];

    /// <summary>The named rewards: each term alone, the experts' rewards of an experiment.</summary>
    public static IReadOnlyList<string> Names { get; } = [Fidelity, Minimalism];

    /// <summary>A named reward, or <c>term=weight,…</c>; an unknown name or term is a one-line error listing the valid ones.</summary>
    public static RewardFunction Reward(string nameOrTerms)
    {
        RewardFunction reward = Names.Contains(nameOrTerms)
            ? new RewardFunction(nameOrTerms, new Dictionary<string, double> { [nameOrTerms] = 1 })
            : RewardFunction.Parse(nameOrTerms, nameOrTerms);
        reward.Resolve(TermNames); // validates the terms now, at the boundary
        return reward;
    }

    /// <summary>
    /// Term values <c>[n × 3]</c> (fidelity, minimalism, lightness) of images <c>[n × 784]</c> in [0, 1] for their prompted classes.
    /// </summary>
    public static double[] Terms(FashionClassifier classifier, ReadOnlySpan<float> pixels01, IReadOnlyList<int> prompts) =>
        Terms(classifier, pixels01, prompts, predicted: null);

    /// <summary>As above, also writing the classifier's top class of each image into <paramref name="predicted"/>.</summary>
    public static double[] Terms(FashionClassifier classifier, ReadOnlySpan<float> pixels01, IReadOnlyList<int> prompts, int[]? predicted)
    {
        int n = prompts.Count, stride = TermNames.Count;
        float[] probabilities = classifier.Probabilities(pixels01, n);   // [n, 10]
        var terms = new double[n * stride];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> image = pixels01.Slice(i * FashionMnist.Pixels, FashionMnist.Pixels);
            double ink = 0;
            foreach (float v in image) ink += v;
            int top = FashionClassifier.TopClass(probabilities, i);
            if (predicted is not null) predicted[i] = top;
            double lightness = 1 - ink / FashionMnist.Pixels;
            terms[i * stride] = probabilities[i * FashionMnist.Classes + prompts[i]];
            terms[i * stride + 1] = top == prompts[i] ? lightness : 0;
            terms[i * stride + 2] = lightness;
        }
        return terms;
    }

    /// <summary>r = Σₖ wₖ termₖ per image, for term values laid out as <see cref="Terms(FashionClassifier, ReadOnlySpan{float}, IReadOnlyList{int})"/> returns them.</summary>
    public static double[] Scores(RewardFunction reward, ReadOnlySpan<double> terms)
    {
        float[] w = reward.Resolve(TermNames);
        int n = terms.Length / TermNames.Count;
        var scores = new double[n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < w.Length; k++) scores[i] += w[k] * terms[i * w.Length + k];
        return scores;
    }
}
