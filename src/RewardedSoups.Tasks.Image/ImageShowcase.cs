using RewardedSoups.Soup;

namespace RewardedSoups.Tasks.Image;

/// <summary>One image shown in the app: its rewards (in the run's reward order), and whether the independent checker recognises its prompt (null without one).</summary>
public sealed record ShownImage(int Index, double[] Rewards, bool? Recognised = null);

/// <summary>
/// What the app shows of θ(λ) for one prompt: a grid of images drawn with fixed noise, as a PNG data URL, the mean rewards,
/// and the share of the grid the independent checker recognises as the prompt (null when the run's init has no checker).
/// </summary>
public sealed record ImageShown(string Kind, double[] Lambda, int PromptIndex, string Prompt, string[] Rewards, string Png, int Columns,
    IReadOnlyList<ShownImage> Samples, double[] Means, double? Recognised = null);

/// <summary>
/// The image showcase: the experts' weights are loaded once (and the init's, when a method of the run merges
/// task vectors); for a λ the soup θ(λ) is made in memory by the requested method of the run
/// (<see cref="ImageModel.Soup(IReadOnlyList{DiffusionUNet}, MemoryMerge, DiffusionUNet?)"/>, the values the run's soup job writes) and a grid of
/// <see cref="GridSize"/> images of the chosen prompt is drawn with the noise seed <see cref="Seed"/>:
/// the same noise for expert 1, the soup and expert 2, so the panels differ only by λ.
/// </summary>
public sealed class ImageShowcase : IShowcase
{
    public const int GridSize = 8;
    public const int Columns = 4;

    /// <summary>Noise seed of the app's grids, apart from the evaluation seeds a config uses.</summary>
    public const int Seed = 5_000_011;

    private readonly ShowcaseSource _source;
    private readonly SamplerSettings _sampler;
    private readonly IReadOnlyList<DiffusionUNet> _experts;
    private readonly DiffusionUNet? _init;
    private readonly FashionClassifier _classifier;
    private readonly FashionClassifier? _checker;
    private readonly Lock _torch = new();

    public ImageShowcase(ShowcaseSource source)
    {
        _source = source;
        _sampler = ImageFamily.Settings(source.Settings).Sampler;
        _experts = source.ExpertDirs.Select(d => ImageModel.Load(Path.Combine(d, ImageModel.FileName))).ToList();
        _classifier = FashionClassifier.Load(Path.Combine(source.InitDir, ImagePretraining.ClassifierFile));
        string checker = Path.Combine(source.InitDir, ImagePretraining.CheckerFile);
        if (File.Exists(checker)) _checker = FashionClassifier.Load(checker);
        if (source.NeedsBase) _init = ImageModel.Load(Path.Combine(source.InitDir, ImageModel.FileName));
        // As every image training and evaluation does: this CPU's kernels against float64, before any grid is drawn.
        DiffusionUNet.CheckKernels(_experts[0]);
        FashionClassifier.CheckKernels(_classifier);
    }

    public string Kind => "image";

    public object Options => new
    {
        prompts = FashionMnist.Prompts.Select((p, i) => new { prompt = p, index = i }).ToList(),
        grid = GridSize,
        columns = Columns,
        seed = Seed,
        sampler = new { steps = _sampler.Steps, guidance = _sampler.Guidance },
    };

    public string? Validate(IReadOnlyDictionary<string, string> query) => PromptQuery.Validate(query, FashionMnist.Classes);

    public string Key(IReadOnlyDictionary<string, string> query) => PromptQuery.CacheKey(query);

    /// <summary>The grid's images of θ(λ) for a prompt (each 784 values in [0, 1]).</summary>
    public float[][] Images(SoupWeights lambda, SoupMethod method, int prompt)
    {
        lock (_torch)
        {
            using DiffusionUNet soup = ImageModel.Soup(_experts, method.InMemory(_experts.Count, lambda), method.Method.NeedsBase ? _init : null);
            return ImageEvaluation.Sample(soup, prompt, GridSize, Seed, _sampler);
        }
    }

    public object Show(SoupWeights lambda, SoupMethod method, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        int k = PromptQuery.Index(query);
        return Shown(lambda, k, Images(lambda, method, k));
    }

    public object ShowEnsemble(SoupWeights lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        int k = PromptQuery.Index(query);
        float[][] images;
        lock (_torch)
            images = ImageEvaluation.Sample(lambda.Select((w, i) => (Model: _experts[i], Weight: w)).Where(m => m.Weight > 0).ToList(), k, GridSize, Seed, _sampler);
        return Shown(lambda, k, images);
    }

    /// <summary>A grid of a prompt's images, scored and drawn for the page.</summary>
    private ImageShown Shown(SoupWeights lambda, int k, float[][] images)
    {
        double[][] terms;
        int[]? checkedTop = null;
        lock (_torch)
        {
            terms = ImageEvaluation.Score(_classifier, images, k);
            if (_checker is not null) checkedTop = ImageEvaluation.TopClasses(_checker, images.SelectMany(x => x).ToArray(), images.Length);
        }
        double[][] perReward = _source.Rewards.Select(r =>
        {
            float[] w = r.Resolve(ImageRewards.TermNames);
            return terms.Select(t => t.Select((v, j) => w[j] * v).Sum()).ToArray();
        }).ToArray();
        string png = "data:image/png;base64," + Convert.ToBase64String(ImageGrid.Png(images, Columns, scale: 3));
        var samples = images.Select((_, i) => new ShownImage(i, perReward.Select(r => r[i]).ToArray(), checkedTop is null ? null : checkedTop[i] == k)).ToList();
        return new ImageShown(Kind, lambda.ToArray(), k, FashionMnist.Prompts[k], _source.Rewards.Select(r => r.Name).ToArray(), png, Columns,
            samples, perReward.Select(r => r.Average()).ToArray(), checkedTop is null ? null : checkedTop.Count(c => c == k) / (double)images.Length);
    }

    public void Dispose()
    {
        foreach (DiffusionUNet m in _experts) m.Dispose();
        _init?.Dispose();
        _classifier.Dispose();
        _checker?.Dispose();
    }
}
