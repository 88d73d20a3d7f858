using Microsoft.ML.Tokenizers;
using RewardedSoups.Soup;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// One continuation shown in the app: the review's text as the rewards see it (up to <c>&lt;|endoftext|&gt;</c>,
/// <see cref="TextRewards.Review"/>), whether the model ended the review there, and its rewards (in the run's reward order).
/// </summary>
public sealed record ShownText(string Text, bool Ended, double[] Rewards);

/// <summary>What the app shows of θ(λ) for one prompt: continuations sampled with fixed seeds.</summary>
public sealed record TextShown(string Kind, double[] Lambda, int PromptIndex, string Prompt, string Reference, string[] Rewards,
    IReadOnlyList<ShownText> Samples, double[] Means);

/// <summary>
/// The text showcase: for a held-out prompt, the soup's LoRA adapter is made (in the run's first soup
/// mode) in a scratch folder, merged into the init and sampled with the seeds
/// <see cref="TextFamily.ShowcaseSeeds"/> — the same seeds for expert 1, the soup and expert 2, so the
/// only difference between panels is λ.
/// </summary>
public sealed class TextShowcase : IShowcase
{
    public const int PromptCount = 24;

    private readonly ShowcaseSource _source;
    private readonly TextSettings _settings;
    private readonly string _baseModel;
    private readonly Tokenizer _tokenizer;
    private readonly IReadOnlyList<ReviewPrompt> _prompts;
    private readonly TextRewards _rewards = new();
    private readonly Lock _scoring = new();

    public TextShowcase(ShowcaseSource source)
    {
        _source = source;
        _settings = TextFamily.Settings(source.Settings);
        _baseModel = Path.Combine(source.InitDir, TextInit.ModelDir);
        (_tokenizer, _, TextTaskData data) = TextFamily.Data(_baseModel, _settings);
        _prompts = data.EvalPrompts.Take(PromptCount).ToList();
    }

    public string Kind => "text";

    public object Options => new
    {
        prompts = _prompts.Select(p => new { prompt = p.Prompt, reference = p.Reference, label = p.Label, source = p.Source }).ToList(),
        seeds = TextFamily.ShowcaseSeeds,
        soup_mode = _settings.SoupModes[0],
    };

    public string? Validate(IReadOnlyDictionary<string, string> query) => PromptQuery.Validate(query, _prompts.Count);

    public string Key(IReadOnlyDictionary<string, string> query) => PromptQuery.CacheKey(query);

    /// <summary>θ(λ) by <paramref name="method"/> (linear: in the run's first LoRA mode), made as the run's soup jobs make it.</summary>
    public object Show(SoupWeights lambda, SoupMethod method, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        int k = PromptQuery.Index(query);
        ReviewPrompt prompt = _prompts[k];
        string scratch = Path.Combine(_source.CacheDir, "scratch", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(scratch);
        try
        {
            // Linear: only the experts with λᵢ > 0 (a one-hot λ is its expert exactly); another method sees every expert, as the run's soups do.
            var used = Enumerable.Range(0, lambda.Count).Where(i => !method.IsLinear || lambda[i] > 0).ToList();
            TextFamily.WriteSoup(used.Select(i => _source.ExpertDirs[i]).ToList(), SoupWeights.Of(used.Select(i => lambda[i])), _settings.SoupModes[0], method, _baseModel, scratch);
            using Gpt2Model model = TextFamily.LoadPolicy(_baseModel, scratch);
            return Shown(lambda, k, [(model, 1.0)], cancel);
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }

    public object ShowEnsemble(SoupWeights lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel)
    {
        int k = PromptQuery.Index(query);
        var members = new List<(Gpt2Model Model, double Weight)>();
        try
        {
            foreach ((int i, double w) in lambda.Select((w, i) => (i, w)).Where(m => m.w > 0))
                members.Add((TextFamily.LoadPolicy(_baseModel, _source.ExpertDirs[i]), w));
            return Shown(lambda, k, members, cancel);
        }
        finally
        {
            foreach (var m in members) m.Model.Dispose();
        }
    }

    /// <summary>The showcase's continuations of prompt <paramref name="k"/> sampled from a model or an ensemble, scored.</summary>
    private TextShown Shown(SoupWeights lambda, int k, IReadOnlyList<(Gpt2Model Model, double Weight)> members, CancellationToken cancel)
    {
        ReviewPrompt prompt = _prompts[k];
        string text = TextTokenizers.EndOfText + prompt.Prompt;
        string[] continuations = TextFamily.ShowcaseSeeds
            .Select(seed => Gpt2Sampling.GenerateText(members, _tokenizer, [text], _settings.PromptTokens + 1, TextFamily.Sampling(_settings), seed)[0])
            .ToArray();
        double[][] terms;
        lock (_scoring) terms = _rewards.Score(continuations.Select(_ => prompt.Prompt).ToList(), continuations, continuations.Select(_ => prompt.Reference).ToList(), cancel);
        double[][] perReward = _source.Rewards.Select(r => TextRewards.Apply(r, terms)).ToArray();
        var samples = continuations.Select((c, i) => new ShownText(TextRewards.Review(c), c.Contains(TextTokenizers.EndOfText, StringComparison.Ordinal), perReward.Select(r => r[i]).ToArray())).ToList();
        return new TextShown(Kind, lambda.ToArray(), k, prompt.Prompt, prompt.Reference, _source.Rewards.Select(r => r.Name).ToArray(),
            samples, perReward.Select(r => r.Average()).ToArray());
    }

    public void Dispose() => _rewards.Dispose();
}
