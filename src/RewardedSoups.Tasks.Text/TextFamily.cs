using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using RewardedSoups.Environments;
using RewardedSoups.Soup;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// The text task (<c>reviews</c>): continue the beginning of a review. The init is a GPT-2-layout
/// model (pre-trained by the project, or a user's folder) after a supervised stage on reviews;
/// experts and MORL policies are LoRA adapters trained with LM-PPO on the init; soups are LoRA soups
/// in two modes, <c>delta</c> (ΔW = Σ λᵢ sᵢ Bᵢ Aᵢ, exact) and <c>factors</c> (A and B averaged
/// apart, as the paper's code); evaluation samples continuations of held-out prompts and scores
/// them with the two rewards.
/// </summary>
public sealed class TextFamily : ITaskFamily
{
    public const string Task = "reviews";

    /// <summary>Sampling seeds of the app's continuations: the same in every panel, so only λ differs.</summary>
    public static IReadOnlyList<int> ShowcaseSeeds { get; } = [0, 1, 2];

    public string Name => "text";

    public IReadOnlyList<string> Tasks { get; } = [Task];

    public string SettingsKey => "text";

    public bool InitUsesReward => false;

    public string CostUnit => "RL responses";

    public string EvaluationUnit => "continuations";

    public string EnsembleCombination => "next-token logits Σ λᵢ ℓᵢ of the experts (each its own KV cache), sampled as every policy is (temperature, top-k, the same random draws)";

    /// <summary>The <c>text</c> section: <see cref="TextSettings"/> with its nested <c>lora</c> and <c>ppo</c>; a model folder is made absolute.</summary>
    public ISettingsSection ReadSettings(string task, JsonObject? section, ConfigReader reader)
    {
        TextSettings s = SettingsSection.Read<TextSettings>(section, reader, SettingsKey);
        return s.IsBuiltIn ? s : s with { Model = Path.GetFullPath(s.Model) };
    }

    /// <summary>The run's text settings.</summary>
    public static TextSettings Settings(ISettingsSection settings) =>
        settings as TextSettings ?? throw new ArgumentException($"text settings are TextSettings, not {settings.GetType().Name}", nameof(settings));

    public IReadOnlyList<string> RewardTerms(string task) => TextRewards.Terms;

    public IReadOnlyList<RewardFunction> NamedRewards(string task) => TextRewards.Named;

    /// <summary>RL responses: the init's language-model training is not counted (RS and MORL share it; its cost is in init.json).</summary>
    public long SpentBudget(TrainRole role, long budget, ISettingsSection settings)
    {
        if (role == TrainRole.Init) return 0;
        long batch = Settings(settings).Ppo.Batch;
        return (budget + batch - 1) / batch * batch;
    }

    public IReadOnlyList<string> SoupModes(ISettingsSection settings) => Settings(settings).SoupModes;

    public string PolicyPath(string jobDir, TrainRole? role) =>
        Path.Combine(jobDir, role == TrainRole.Init ? TextInit.ModelDir : LmPpoRun.AdapterFolder);

    public void Train(TrainJobSpec spec, Action<string>? log, CancellationToken cancel)
    {
        TextSettings s = Settings(spec.Settings);
        if (spec.Role == TrainRole.Init)
        {
            if (!s.IsBuiltIn && spec.Budget > 0)
                throw new SoupInputException($"text.model is a given checkpoint ({s.Model}): it is not pre-trained again; set pretrain.steps to 0 (text.sft_steps sets its supervised stage)");
            TextInitReport report = TextInit.Train(spec.Dir, s, spec.Budget, spec.Seed, log, cancel);
            log?.Invoke($"init: reviews' validation {Gpt2Folder.Perplexity(report.SftValidLoss)}");
            return;
        }
        string baseModel = Path.Combine(spec.InitDir!, TextInit.ModelDir);
        RewardFunction reward = spec.Reward ?? throw new SoupInputException("an LM-PPO training needs a reward");
        float[] weights = reward.Resolve(TextRewards.Terms);
        (Tokenizer tokenizer, string tokenizerName, TextTaskData data) = Data(baseModel, s);
        using var rewards = new TextRewards();
        double[] Score(IReadOnlyList<LmSample> batch)
        {
            var items = batch.Select(b => (ReviewPrompt)b.Item!).ToList();
            double[][] terms = rewards.Score(items.Select(p => p.Prompt).ToList(), batch.Select(b => b.Response).ToList(), items.Select(p => p.Reference).ToList(), cancel);
            return terms.Select(t => t.Select((v, k) => v * weights[k]).Sum()).ToArray();
        }
        var prompts = data.TrainPrompts.Select(p => new LmPrompt(TextTokenizers.EndOfText + p.Prompt, p)).ToList();
        var lmSpec = new LmPpoSpec(baseModel, tokenizer, tokenizerName, prompts, Score,
            $"{reward.Name} {JsonSerializer.Serialize(reward.Weights)} (positivity: AFINN-165 comparative; faithfulness: all-MiniLM-L6-v2 cosine of what the continuation adds to the prompt)",
            s.Lora, s.Trainer, spec.Seed, spec.Budget);
        int total = (int)((spec.Budget + s.Ppo.Batch - 1) / s.Ppo.Batch);
        LmPpoRun.Run(spec.Dir, lmSpec, u =>
        {
            if (u.Update == total || u.Update % Math.Max(1, total / 5) == 0)
                log?.Invoke($"update {u.Update}/{total}, score {u.ScoreMean:F3}, KL {u.Kl:F2}, β {u.KlCoef:F3}");
        }, cancel);
    }

    public void Soup(SoupJobSpec spec, CancellationToken cancel) =>
        WriteSoup(spec.ExpertDirs, spec.Weights, spec.Mode, spec.Method ?? SoupMethod.Linear, Path.Combine(spec.InitDir, TextInit.ModelDir), spec.Dir);

    /// <summary>
    /// The soup's adapter in <paramref name="dir"/>: a linear soup in the LoRA mode <paramref name="mode"/> ('delta' or
    /// 'factors'), any other method on the experts' ΔWᵢ (<see cref="LoraMethodSoup"/>; slerp reads the base model).
    /// The app's live soups call it too, so a live soup is the run's soup.
    /// </summary>
    internal static void WriteSoup(IReadOnlyList<string> expertDirs, SoupWeights weights, string mode, SoupMethod method, string baseModel, string dir)
    {
        var adapters = expertDirs.Select(d => Path.Combine(d, LmPpoRun.AdapterFolder)).ToList();
        string output = Path.Combine(dir, LmPpoRun.AdapterFolder);
        if (!method.IsLinear)
        {
            LoraMethodSoup.Merge(adapters, weights, output, method.Method, method.Parameters, method.Method is SlerpMethod ? baseModel : null, overwrite: true);
            return;
        }
        LoraMode loraMode = mode switch
        {
            "delta" => LoraMode.Delta,
            "factors" => LoraMode.Factors,
            _ => throw new SoupInputException($"text soups are 'delta' or 'factors', not '{mode}'"),
        };
        LoraSoup.Merge(adapters, weights, output, loraMode, overwrite: true);
    }

    public EvalFile Evaluate(EvalJobSpec spec, CancellationToken cancel)
    {
        TextSettings s = Settings(spec.Settings);
        string baseModel = Path.Combine(spec.InitDir, TextInit.ModelDir);
        (Tokenizer tokenizer, _, TextTaskData data) = Data(baseModel, s);
        if (data.EvalPrompts.Count < spec.Episodes)
            throw new SoupInputException($"evaluation.episodes {spec.Episodes} exceeds the {data.EvalPrompts.Count} held-out prompts of the text task");
        var prompts = data.EvalPrompts.Take(spec.Episodes).ToList();
        List<(Gpt2Model Model, double Weight)> members = LoadMembers(baseModel, spec);
        try
        {
            using var rewards = new TextRewards();
            var values = spec.Rewards.Select(_ => new List<double>()).ToList();
            var tally = new InferenceTally();
            foreach (int seed in spec.Seeds)
            {
                cancel.ThrowIfCancellationRequested();
                string[] responses = Gpt2Sampling.GenerateText(members, tokenizer, prompts.Select(p => TextTokenizers.EndOfText + p.Prompt).ToList(),
                    s.PromptTokens + 1, Sampling(s), seed, tally: tally);
                double[][] terms = rewards.Score(prompts.Select(p => p.Prompt).ToList(), responses, prompts.Select(p => p.Reference).ToList(), cancel);
                for (int i = 0; i < spec.Rewards.Count; i++) values[i].AddRange(TextRewards.Apply(spec.Rewards[i], terms));
            }
            return new EvalFile(spec.Rewards.Select(r => r.Name).ToList(), values.Select(v => v.ToArray()).ToArray(), values[0].Count,
                Inference: tally.ToCost(values[0].Count));
        }
        finally
        {
            foreach (var m in members) m.Model.Dispose();
        }
    }

    /// <summary>The models an evaluation samples from: the policy of the folder, or each ensemble member (λᵢ &gt; 0) with its weight.</summary>
    private static List<(Gpt2Model Model, double Weight)> LoadMembers(string baseModel, EvalJobSpec spec)
    {
        if (spec.Ensemble is null) return [(LoadPolicy(baseModel, spec.PolicyDir), 1.0)];
        spec.Ensemble.Check();
        var members = new List<(Gpt2Model, double)>();
        try
        {
            foreach ((int i, double w) in spec.Ensemble.Members) members.Add((LoadPolicy(baseModel, spec.Ensemble.ExpertDirs[i]), w));
            return members;
        }
        catch
        {
            foreach (var m in members) m.Item1.Dispose();
            throw;
        }
    }

    public JsonObject? InitDetails(string initDir) =>
        File.Exists(Path.Combine(initDir, TextInit.ReportFile)) ? JsonSerializer.SerializeToNode(TextInit.ReadReport(initDir))!.AsObject() : null;

    public IShowcase OpenShowcase(ShowcaseSource source) => new TextShowcase(source);

    /// <summary>The base model with the adapter of a policy folder merged in (the init's folder has none).</summary>
    public static Gpt2Model LoadPolicy(string baseModel, string policyDir)
    {
        var model = Gpt2Model.Load(baseModel);
        string adapter = Path.Combine(policyDir, LmPpoRun.AdapterFolder);
        if (Directory.Exists(adapter))
        {
            using var lora = Gpt2Lora.Load(model, adapter);
            lora.MergeAndUnload();
        }
        model.eval();
        return model;
    }

    public static (Tokenizer Tokenizer, string Name, TextTaskData Data) Data(string baseModel, TextSettings s)
    {
        Gpt2Config config = Gpt2Config.Load(baseModel);
        Tokenizer tokenizer = TextTokenizers.ForModel(baseModel, config);
        string name = File.Exists(Path.Combine(baseModel, TextTokenizers.TokenizerFile)) ? $"gpt2-prefix-{config.VocabSize - 1}" : "gpt2";
        return (tokenizer, name, TextTaskData.Build(tokenizer, config.VocabSize - 1, s.PromptTokens, corpora: []));
    }

    /// <summary>How the task samples continuations: the same for training (<see cref="TextSettings.Trainer"/>), evaluation and the app.</summary>
    public static SamplingSettings Sampling(TextSettings s) => s.Trainer.Sampling;

    internal static string Format(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);
}
