using RewardedSoups.Numerics;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// A non-finite score, loss or gradient norm stops the language-model trainers (LM-PPO and pre-training)
/// with one line naming the place, before the optimiser steps; no adapter is written.
/// </summary>
public sealed class LmDivergenceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>LM-PPO of a tiny GPT on 20 six-letter prompts: one batch of 16, two minibatches.</summary>
    private LmPpoSpec TinyLmPpo(string name, LmScorer scorer, double learningRate = 3e-3)
    {
        string baseFolder = _dir.File(name + "-base");
        using (var model = TinyGpt.Create(7)) TinyGpt.Save(model, baseFolder);
        var prompts = Enumerable.Range(0, 20).Select(i => new LmPrompt("abcdef", i)).ToList();
        var settings = new LmPpoSettings { Batch = 16, Minibatches = 2, Epochs = 2, PromptTokens = 4, ResponseMin = 4, ResponseMax = 6, Lr = learningRate };
        return new LmPpoSpec(baseFolder, TinyGpt.Tokenizer(), "tiny-letters", prompts, scorer, name, new LoraSettings { Rank = 2, Alpha = 4, Targets = ["c_attn"] }, settings, 1, 32);
    }

    [Fact]
    public void LmPpo_NaNScore_StopsAtTheFirstUpdate_NoAdapterWritten()
    {
        string dir = _dir.File("lm-ppo");
        var e = Assert.Throws<NumericalFailureException>(() => LmPpoRun.Run(dir, TinyLmPpo("nan", batch => batch.Select(_ => double.NaN).ToArray())));
        Assert.Matches(@"^training diverged: score NaN for response 0 \("".*""\) at LM-PPO update 1$", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, LmPpoRun.AdapterFolder)));
    }

    [Fact]
    public void LmPpo_DivergingOptimiser_StopsAtItsMinibatch_NoAdapterWritten()
    {
        // Adam's first step at a learning rate of 1e30 moves every adapter weight by ~1e30: the next minibatch overflows.
        string dir = _dir.File("lm-ppo-lr");
        var e = Assert.Throws<NumericalFailureException>(() =>
            LmPpoRun.Run(dir, TinyLmPpo("a", batch => batch.Select(s => s.Response.Count(c => c == 'a') / 6.0).ToArray(), learningRate: 1e30)));
        Assert.Matches(@"^training diverged: (loss|gradient norm) \S+ at LM-PPO update 1, epoch \d, minibatch \d$", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, LmPpoRun.AdapterFolder)));
    }

    [Fact]
    public void LanguageModelTraining_Diverging_StopsAtItsStep()
    {
        var model = new Gpt2Model(new Gpt2Config(40, 16, 16, 1, 2));
        LmTraining.InitializeFromScratch(model, 1);
        int[] tokens = Enumerable.Range(0, 4000).Select(i => i % 40).ToArray();
        var e = Assert.Throws<NumericalFailureException>(() =>
            LmTraining.Train(model, tokens, tokens, new LmTrainSettings { Steps = 20, BatchSize = 4, Context = 8, WarmupSteps = 1, EvalEvery = 10, LearningRate = 1e30 }, seed: 3));
        Assert.Matches(@"^training diverged: (loss|gradient norm) \S+ at language-model training step \d+$", e.Message);
        model.Dispose();
    }
}
