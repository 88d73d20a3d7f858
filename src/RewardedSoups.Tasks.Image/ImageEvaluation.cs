using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// One evaluated image: its prompt class, its noise index, its term values (<see cref="ImageRewards.TermNames"/> order), the
/// reward classifier's top class, and the independent checker's top class (−1 when evaluated without a checker).
/// </summary>
public sealed record ImageSampleScore(int Prompt, int Index, double[] Terms, int Predicted, int Checked = -1)
{
    /// <summary>Whether the independent checker sees the prompted garment (null without a checker).</summary>
    public bool? Recognised => Checked < 0 ? null : Checked == Prompt;
}

/// <summary>Every image of an evaluation, with means per term and per prompt.</summary>
public sealed record ImageEvaluationResult(IReadOnlyList<string> TermNames, IReadOnlyList<ImageSampleScore> Samples)
{
    /// <summary>Per-image values of any reward over the terms (what a runner turns into a mean and an interval).</summary>
    public double[] Rewards(RewardFunction reward)
    {
        float[] w = reward.Resolve(TermNames);
        return Samples.Select(s => s.Terms.Select((v, k) => w[k] * v).Sum()).ToArray();
    }

    /// <summary>Mean of a term over all images.</summary>
    public double Mean(string term) => Samples.Average(s => s.Terms[TermIndex(term)]);

    /// <summary>Mean of a term over one prompt's images.</summary>
    public double Mean(string term, int prompt) => Samples.Where(s => s.Prompt == prompt).Average(s => s.Terms[TermIndex(term)]);

    /// <summary>Share of images whose top class under the classifier is their prompt.</summary>
    public double PromptAccuracy => Samples.Count(s => s.Predicted == s.Prompt) / (double)Samples.Count;

    /// <summary>Share of images the independent checker recognises as their prompt; null when evaluated without a checker.</summary>
    public double? RecognitionRate => Samples.Count == 0 || Samples.Any(s => s.Recognised is null) ? null : Samples.Count(s => s.Recognised == true) / (double)Samples.Count;

    /// <summary>The quality summary: overall and per-prompt fidelity and prompt accuracy, mean minimalism.</summary>
    public ImageQuality Quality()
    {
        var fidelity = new double[FashionMnist.Classes];
        var accuracy = new double[FashionMnist.Classes];
        int f = TermIndex(ImageRewards.Fidelity);
        for (int p = 0; p < FashionMnist.Classes; p++)
        {
            ImageSampleScore[] mine = Samples.Where(s => s.Prompt == p).ToArray();
            if (mine.Length == 0) continue;
            fidelity[p] = mine.Average(s => s.Terms[f]);
            accuracy[p] = mine.Count(s => s.Predicted == p) / (double)mine.Length;
        }
        return new ImageQuality(Mean(ImageRewards.Fidelity), PromptAccuracy, Mean(ImageRewards.Minimalism), fidelity, accuracy);
    }

    private int TermIndex(string term)
    {
        for (int k = 0; k < TermNames.Count; k++)
            if (TermNames[k] == term) return k;
        throw new SoupInputException($"unknown image term '{term}'; terms: {string.Join(", ", TermNames)}");
    }
}

/// <summary>
/// Draws images from models and scores them. Image (prompt p, index i) of seed s always starts from
/// the same noise (<see cref="DdimSampler.Noise"/>), so evaluations of different models with one seed
/// compare the same draws, and <see cref="Sample(DiffusionUNet, int, int, int, SamplerSettings, int)"/> for the app shows "same noise, different λ".
/// </summary>
public static class ImageEvaluation
{
    /// <summary>Images drawn per U-Net pass: bounds memory (≈ 40 MB of activations at C = 32) without slowing down.</summary>
    public const int Chunk = 100;

    /// <summary>
    /// Samples <paramref name="samplesPerPrompt"/> images for each prompt (all ten when null) from a model
    /// file with <paramref name="seed"/>, and scores every image with the classifier file.
    /// </summary>
    public static ImageEvaluationResult Evaluate(string modelPath, string classifierPath, int samplesPerPrompt, int seed, SamplerSettings sampler, IReadOnlyList<int>? prompts = null,
        string? checkerPath = null)
    {
        using DiffusionUNet model = ImageModel.Load(modelPath);
        using FashionClassifier classifier = FashionClassifier.Load(classifierPath);
        using FashionClassifier? checker = checkerPath is null ? null : FashionClassifier.Load(checkerPath);
        // A file's evaluation is a job of its own: check once that this machine computes both models right.
        DiffusionUNet.CheckKernels(model);
        FashionClassifier.CheckKernels(classifier);
        return Evaluate(model, classifier, samplesPerPrompt, seed, sampler, prompts, checker);
    }

    /// <summary>As above, for models in memory; with a <paramref name="checker"/>, each image's <see cref="ImageSampleScore.Checked"/> too.</summary>
    public static ImageEvaluationResult Evaluate(DiffusionUNet model, FashionClassifier classifier, int samplesPerPrompt, int seed, SamplerSettings sampler, IReadOnlyList<int>? prompts = null,
        FashionClassifier? checker = null) =>
        Evaluate([(model, 1.0)], classifier, samplesPerPrompt, seed, sampler, prompts, checker);

    /// <summary>As above for an output-space ensemble of denoisers (<see cref="DdimSampler.Sample(IReadOnlyList{ValueTuple{DiffusionUNet, double}}, IReadOnlyList{int}, IReadOnlyList{int}, int, SamplerSettings, InferenceTally?)"/>); <paramref name="tally"/> counts and times the sampling alone.</summary>
    public static ImageEvaluationResult Evaluate(IReadOnlyList<(DiffusionUNet Model, double Weight)> members, FashionClassifier classifier, int samplesPerPrompt, int seed, SamplerSettings sampler,
        IReadOnlyList<int>? prompts = null, FashionClassifier? checker = null, InferenceTally? tally = null)
    {
        if (samplesPerPrompt < 1) throw new SoupInputException($"samples per prompt must be ≥ 1, got {samplesPerPrompt}");
        sampler.Validate();
        var promptList = new List<int>();
        var indexList = new List<int>();
        foreach (int p in prompts ?? Enumerable.Range(0, FashionMnist.Classes).ToArray())
            for (int i = 0; i < samplesPerPrompt; i++)
            {
                promptList.Add(p);
                indexList.Add(i);
            }
        var samples = new List<ImageSampleScore>(promptList.Count);
        int terms = ImageRewards.TermNames.Count;
        for (int start = 0; start < promptList.Count; start += Chunk)
        {
            int n = Math.Min(Chunk, promptList.Count - start);
            var ps = promptList.GetRange(start, n);
            float[] images = DdimSampler.Sample(members, ps, indexList.GetRange(start, n), seed, sampler, tally);
            var predicted = new int[n];
            double[] values = ImageRewards.Terms(classifier, images, ps, predicted);
            int[]? checkedTop = checker is null ? null : TopClasses(checker, images, n);
            for (int i = 0; i < n; i++)
                samples.Add(new ImageSampleScore(ps[i], indexList[start + i], values.AsSpan(i * terms, terms).ToArray(), predicted[i], checkedTop?[i] ?? -1));
        }
        return new ImageEvaluationResult(ImageRewards.TermNames, samples);
    }

    /// <summary>
    /// <paramref name="count"/> images of prompt <paramref name="prompt"/> (noise indices
    /// <paramref name="firstIndex"/>…) from a model in memory: each a float[784] in [0, 1], row-major
    /// 28 × 28, 0 = background. What the app calls for a live grid of expert / soup / expert.
    /// </summary>
    public static float[][] Sample(DiffusionUNet model, int prompt, int count, int seed, SamplerSettings sampler, int firstIndex = 0) =>
        Sample([(model, 1.0)], prompt, count, seed, sampler, firstIndex);

    /// <summary>As above for an output-space ensemble of denoisers (Σ λᵢ ε̂ᵢ at every step): what the app draws for an ensemble.</summary>
    public static float[][] Sample(IReadOnlyList<(DiffusionUNet Model, double Weight)> members, int prompt, int count, int seed, SamplerSettings sampler, int firstIndex = 0)
    {
        sampler.Validate();
        if (prompt < 0 || prompt >= FashionMnist.Classes) throw new SoupInputException($"prompt class {prompt} is not 0–9");
        if (count < 0) throw new SoupInputException($"image count must be ≥ 0, got {count}");
        var result = new float[count][];
        for (int start = 0; start < count; start += Chunk)
        {
            int n = Math.Min(Chunk, count - start);
            float[] images = DdimSampler.Sample(members, Enumerable.Repeat(prompt, n).ToArray(), Enumerable.Range(firstIndex + start, n).ToArray(), seed, sampler);
            for (int i = 0; i < n; i++) result[start + i] = images.AsSpan(i * FashionMnist.Pixels, FashionMnist.Pixels).ToArray();
        }
        return result;
    }

    /// <summary>The top class of each of <paramref name="count"/> images <c>[count × 784]</c> under a classifier.</summary>
    public static int[] TopClasses(FashionClassifier classifier, ReadOnlySpan<float> pixels01, int count)
    {
        float[] p = classifier.Probabilities(pixels01, count);
        return Enumerable.Range(0, count).Select(i => FashionClassifier.TopClass(p, i)).ToArray();
    }

    /// <summary>Term values (<see cref="ImageRewards.TermNames"/> order) of each image, all for one prompt.</summary>
    public static double[][] Score(FashionClassifier classifier, IReadOnlyList<float[]> images, int prompt)
    {
        var pixels = new float[images.Count * FashionMnist.Pixels];
        for (int i = 0; i < images.Count; i++) images[i].CopyTo(pixels, i * FashionMnist.Pixels);
        double[] values = ImageRewards.Terms(classifier, pixels, Enumerable.Repeat(prompt, images.Count).ToArray());
        int terms = ImageRewards.TermNames.Count;
        return Enumerable.Range(0, images.Count).Select(i => values.AsSpan(i * terms, terms).ToArray()).ToArray();
    }
}
