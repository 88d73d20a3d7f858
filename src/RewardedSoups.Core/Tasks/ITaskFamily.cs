using System.Text.Json.Nodes;
using RewardedSoups.Environments;
using RewardedSoups.Soup;

namespace RewardedSoups.Tasks;

/// <summary>Why a policy is trained: the shared init, an expert on one reward, or a MORL policy on Σ μᵢ Rᵢ.</summary>
public enum TrainRole
{
    Init,
    Expert,
    Morl,
}

/// <summary>One training job of an experiment, files in and files out.</summary>
/// <param name="Dir">The job's folder: the family writes its policy and logs there; a killed job resumes from it.</param>
/// <param name="InitDir">The shared init's job folder (experts and MORL policies start from it); null for the init.</param>
/// <param name="Reward">The reward trained on; null for an init whose family pre-trains without one.</param>
/// <param name="Budget">Training budget in the family's <see cref="ITaskFamily.CostUnit"/>.</param>
/// <param name="Settings">The family's settings, read and checked with the configuration (<see cref="ITaskFamily.ReadSettings"/>).</param>
public sealed record TrainJobSpec(string Task, TrainRole Role, string Dir, string? InitDir, RewardFunction? Reward, long Budget, int Seed, ISettingsSection Settings);

/// <summary>One soup job: θ(λ) of the experts' policies, made in one of the family's soup modes.</summary>
/// <remarks><paramref name="Method"/>: the merge method (null: linear in <paramref name="Mode"/>); task-vector methods take the init's policy as their base.</remarks>
public sealed record SoupJobSpec(string Task, IReadOnlyList<string> ExpertDirs, Soup.SoupWeights Weights, string Mode, string Dir, string InitDir, ISettingsSection Settings,
    Soup.SoupMethod? Method = null);

/// <summary>
/// One evaluation job: the policy of <paramref name="PolicyDir"/> on every reward, <paramref name="Episodes"/> episodes (or samples) per seed;
/// or, with <paramref name="Ensemble"/>, the output-space ensemble of the experts it names (<paramref name="PolicyDir"/> is then the ensemble job's folder).
/// </summary>
public sealed record EvalJobSpec(string Task, string PolicyDir, string InitDir, IReadOnlyList<RewardFunction> Rewards, int Episodes, IReadOnlyList<int> Seeds, ISettingsSection Settings,
    EnsembleSpec? Ensemble = null);

/// <summary>
/// An output-space ensemble of the experts (the rival of their weight soup, after multi-objective decoding, Shi et al.
/// 2024): at inference, every expert with λᵢ &gt; 0 runs on the same input and their outputs are combined with the weights —
/// text: next-token logits Σ λᵢ ℓᵢ; locomotion: the Gaussian experts' weighted product (mean action Σ λᵢ μᵢ when their
/// standard deviations are equal, precision-weighted otherwise); images: the denoiser's prediction Σ λᵢ ε̂ᵢ at every
/// sampler step. Experts with λᵢ = 0 are not run; one expert with λᵢ = 1 gives exactly its own outputs.
/// </summary>
/// <param name="ExpertDirs">The experts' job folders, in the order of <paramref name="Weights"/>.</param>
public sealed record EnsembleSpec(IReadOnlyList<string> ExpertDirs, SoupWeights Weights)
{
    /// <summary>The members that run: (index, weight) of every expert with a weight above 0.</summary>
    public IReadOnlyList<(int Index, double Weight)> Members =>
        Weights.Select((w, i) => (Index: i, Weight: w)).Where(m => m.Weight > 0).ToList();

    /// <summary>Refuses what is not an ensemble: fewer than two experts, or weights that do not match them. One line naming it.</summary>
    public void Check()
    {
        if (ExpertDirs.Count < 2)
            throw new SoupInputException($"an ensemble needs at least 2 experts, got {ExpertDirs.Count}: with one expert it is that expert");
        Weights.For(ExpertDirs.Count);
        if (Weights.Extrapolates) throw new SoupInputException("an ensemble's weights must be on the simplex (non-negative): a product of experts with a negative weight is not a distribution");
    }
}

/// <summary>
/// What computing a policy's outputs cost during an evaluation: <see cref="ForwardPasses"/> network evaluations of one
/// input row (a model on one observation, one token position of one sequence, one image at one sampler step) over
/// <see cref="Samples"/> evaluation samples, an exact count written to <c>eval.json</c>; and <see cref="Seconds"/>, the wall
/// time spent in the policy's computation alone (not the simulator, the reward models or the classifiers), a measurement
/// that is never serialised with the count: the job writes it apart (<c>timing.json</c>), so that <c>eval.json</c> is the
/// same bytes in every run of the job. An ensemble of k experts costs k passes where a soup costs one.
/// </summary>
public sealed record InferenceCost
{
    public required long ForwardPasses { get; init; }

    public required int Samples { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public double Seconds { get; init; }

    public static InferenceCost Of(long forwardPasses, double seconds, int samples) => new() { ForwardPasses = forwardPasses, Seconds = seconds, Samples = samples };

    [System.Text.Json.Serialization.JsonIgnore]
    public double ForwardPassesPerSample => Samples > 0 ? ForwardPasses / (double)Samples : 0;

    [System.Text.Json.Serialization.JsonIgnore]
    public double SecondsPerSample => Samples > 0 ? Seconds / Samples : 0;

    /// <summary>The sum of two measurements (e.g. two training seeds).</summary>
    public InferenceCost Plus(InferenceCost other) => Of(ForwardPasses + other.ForwardPasses, Seconds + other.Seconds, Samples + other.Samples);
}

/// <summary>
/// Evaluation of one policy: per reward, the return of every episode (all evaluation seeds); and the family's
/// <paramref name="Measures"/>, per-episode values that are not rewards but say what the rewards cannot (images:
/// <c>recognised</c>, 1 when an independent classifier sees the prompted garment), reported beside the rewards with
/// intervals. Null or empty when the family measures nothing more (and in evaluations written before measures existed).
/// <paramref name="Inference"/>: what computing the policy's outputs cost (null in evaluations written before it was measured).
/// </summary>
public sealed record EvalFile(IReadOnlyList<string> Rewards, double[][] Returns, int Episodes, IReadOnlyDictionary<string, double[]>? Measures = null,
    InferenceCost? Inference = null);

/// <summary>
/// A task family (locomotion, text, images): how its policies are trained, souped, evaluated and shown.
/// The runner and the app work through this interface only; the composition root lists the families.
/// A policy is a job folder; what is inside it (a policy file, a model folder, a LoRA adapter) is the
/// family's business.
/// </summary>
public interface ITaskFamily
{
    /// <summary>Family name (<c>locomotion</c>, <c>text</c>, …).</summary>
    string Name { get; }

    IReadOnlyList<string> Tasks { get; }

    /// <summary>The configuration key holding this family's settings (<c>ppo</c>, <c>text</c>, …).</summary>
    string SettingsKey { get; }

    /// <summary>
    /// Binds the family's settings section (null: every default) strictly into its settings record, once, where
    /// the configuration is read; errors name the reader's file and the key. Every job of the run gets this record.
    /// </summary>
    ISettingsSection ReadSettings(string task, JsonObject? section, ConfigReader reader);

    /// <summary>The reward terms of a task; rewards are weighted sums of them.</summary>
    IReadOnlyList<string> RewardTerms(string task);

    /// <summary>The task's named rewards (the experts' usual pair).</summary>
    IReadOnlyList<RewardFunction> NamedRewards(string task);

    /// <summary>True when the shared init is trained on a reward (locomotion); false when it is pre-trained without one (language modelling).</summary>
    bool InitUsesReward { get; }

    /// <summary>What budgets count (<c>environment steps</c>, <c>responses</c>, …).</summary>
    string CostUnit { get; }

    /// <summary>What one evaluation return is, plural (<c>episodes</c>, <c>continuations</c>, <c>images</c>): the unit of
    /// <c>episodes_per_policy</c> in results.json and of the intervals.</summary>
    string EvaluationUnit { get; }

    /// <summary>The budget a training really spends for <paramref name="budget"/> asked (whole batches).</summary>
    long SpentBudget(TrainRole role, long budget, ISettingsSection settings);

    /// <summary>The ways this family makes linear soups, the first being the one the RS front is drawn with.</summary>
    IReadOnlyList<string> SoupModes(ISettingsSection settings);

    /// <summary>The file or folder that is the policy of a job folder (what results.json points to).</summary>
    string PolicyPath(string jobDir, TrainRole? role);

    void Train(TrainJobSpec spec, Action<string>? log, CancellationToken cancel);

    void Soup(SoupJobSpec spec, CancellationToken cancel);

    /// <summary>Evaluates a policy folder, or the experts' output-space ensemble when <see cref="EvalJobSpec.Ensemble"/> is set.</summary>
    EvalFile Evaluate(EvalJobSpec spec, CancellationToken cancel);

    /// <summary>How this family combines experts at inference (<see cref="EnsembleSpec"/>), in one sentence for results.json.</summary>
    string EnsembleCombination { get; }

    /// <summary>What the family measured of the shared init beyond rewards (e.g. validation perplexity), for results.json; null if nothing.</summary>
    JsonObject? InitDetails(string initDir);

    /// <summary>What the app shows of soups of a run's experts, computed live.</summary>
    IShowcase OpenShowcase(ShowcaseSource source);
}

/// <summary>
/// What a showcase is opened on: the run's task, settings, rewards and job folders (first training seed),
/// and the run's soup methods (<c>soups.methods</c>), any of which a live soup may be made with.
/// </summary>
public sealed record ShowcaseSource(string Task, ISettingsSection Settings, IReadOnlyList<RewardFunction> Rewards, string InitDir, IReadOnlyList<string> ExpertDirs, string CacheDir,
    IReadOnlyList<SoupMethod> Methods)
{
    /// <summary>True when some method merges task vectors against the init (the showcase then loads the init's weights).</summary>
    public bool NeedsBase => Methods.Any(m => m.Method.NeedsBase);
}

/// <summary>
/// The live side of a run in the app: for any λ, the behaviour of θ(λ) as a JSON-serialisable object
/// the page draws (a recorded episode, texts, images). <see cref="Options"/> tells the page what it may
/// ask (e.g. prompts); <see cref="Show"/> computes or returns from cache.
/// </summary>
public interface IShowcase : IDisposable
{
    /// <summary><c>locomotion</c>, <c>text</c>, <c>image</c>: which drawing the page uses.</summary>
    string Kind { get; }

    /// <summary>Choices the page offers (e.g. the prompts), JSON-serialisable.</summary>
    object Options { get; }

    /// <summary>Checks a request's extra parameters (e.g. <c>prompt</c>); returns an error message or null.</summary>
    string? Validate(IReadOnlyDictionary<string, string> query);

    /// <summary>
    /// The behaviour of θ(λ) made by <paramref name="method"/> (one of the source's; λ already validated) for the
    /// request's parameters; its cache key must include them. The soup holds the values the run's soup job of that
    /// method writes for the same λ.
    /// </summary>
    object Show(SoupWeights lambda, SoupMethod method, IReadOnlyDictionary<string, string> query, CancellationToken cancel);

    /// <summary>
    /// The behaviour of the experts' output-space ensemble with weights λ (<see cref="EnsembleSpec"/>: the experts with λᵢ &gt; 0
    /// run side by side and their outputs are combined), drawn as <see cref="Show"/> draws a soup: the same prompts, noise or
    /// start state, so the two panels differ only in where the experts are combined.
    /// </summary>
    object ShowEnsemble(SoupWeights lambda, IReadOnlyDictionary<string, string> query, CancellationToken cancel);

    /// <summary>A short key of the request's extra parameters, for caches and for sharing one computation.</summary>
    string Key(IReadOnlyDictionary<string, string> query);
}

/// <summary>The families a face starts with; one place lists them (the composition root).</summary>
public sealed class TaskCatalogue(IReadOnlyList<ITaskFamily> families)
{
    public IReadOnlyList<ITaskFamily> Families { get; } = families;

    public IReadOnlyList<string> Tasks => Families.SelectMany(f => f.Tasks).ToList();

    /// <summary>The family of a task, or a one-line error listing the tasks.</summary>
    public ITaskFamily Family(string task) =>
        Families.FirstOrDefault(f => f.Tasks.Contains(task))
        ?? throw new SoupInputException($"unknown task '{task}'; valid: {string.Join(", ", Tasks)}");

    /// <summary>A named reward of the task, or one-line error listing them.</summary>
    public RewardFunction NamedReward(string task, string name)
    {
        ITaskFamily family = Family(task);
        return family.NamedRewards(task).FirstOrDefault(r => r.Name == name)
               ?? throw new SoupInputException($"unknown reward '{name}' for task '{task}'; named rewards: {string.Join(", ", family.NamedRewards(task).Select(r => r.Name))}; or give terms of: {string.Join(", ", family.RewardTerms(task))}");
    }

    /// <summary>
    /// The one resolver of rewards, where input enters (a configuration, a command line): a configuration's
    /// reward is the task's named reward, or named weighted terms checked against the task's terms. What it
    /// returns is trusted inward.
    /// </summary>
    public RewardFunction Reward(string task, RewardSpec spec)
    {
        if (spec.Terms is null) return NamedReward(task, spec.Name);
        var reward = new RewardFunction(spec.Name, spec.Terms);
        reward.Resolve(Family(task).RewardTerms(task));
        return reward;
    }

    /// <summary>A reward as a command line gives it: a named reward of the task, or weighted terms (<c>forward_velocity=1,control_cost=-1</c>) checked against its terms.</summary>
    public RewardFunction ParseReward(string task, string text)
    {
        ITaskFamily family = Family(task);
        RewardFunction? named = family.NamedRewards(task).FirstOrDefault(r => r.Name == text);
        if (named is not null) return named;
        IReadOnlyList<string> terms = family.RewardTerms(task);
        // A bare word that is not a named reward: a single term, or a typo; either way check it against the terms.
        if (!text.Contains('=') && !terms.Contains(text.Trim()))
            throw new SoupInputException($"unknown reward '{text}' for task '{task}'; named rewards: {string.Join(", ", family.NamedRewards(task).Select(r => r.Name))}; or weighted terms of: {string.Join(", ", terms)}");
        RewardFunction reward = RewardFunction.Parse(text.Trim(), text);
        reward.Resolve(terms);
        return reward;
    }
}
