using System.Globalization;
using RewardedSoups.Soup;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>PPO for language models: the arithmetic on known numbers, and real tiny trainings in job folders.</summary>
[Collection(nameof(LmPpoTests))]
public sealed class LmPpoTests : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>
    /// One libtorch thread, as the runner trains (the LoRA and sampling tests share this collection, so the
    /// switch never happens between two computations they compare bit for bit): a tiny model's operations are too small to split, and
    /// on a shared 2-core machine libtorch's spinning workers made these runs over 10× slower.
    /// </summary>
    public LmPpoTests() => TorchSharp.torch.set_num_threads(1);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void KlController_Adaptive_FollowsZieglersRule_AndFixedNeverMoves()
    {
        var kl = new KlController(0.2, 6, 10000);
        kl.Update(12, 64);                       // error clipped to +0.2: β·(1 + 0.2·64/10000)
        Assert.Equal(0.2 * 1.00128, kl.Value, 12);
        kl.Update(6.6, 100);                     // error 0.1
        Assert.Equal(0.2 * 1.00128 * 1.001, kl.Value, 12);
        kl.Update(0, 1000);                      // error clipped to −0.2
        Assert.Equal(0.2 * 1.00128 * 1.001 * 0.98, kl.Value, 12);
        var fixedKl = new KlController(0.05, null, 10000);
        fixedKl.Update(100, 64);
        Assert.Equal(0.05, fixedKl.Value);
    }

    [Fact]
    public void Whiten_UsesMaskedPositionsOnly_WithUnbiasedVariance()
    {
        float[] x = [1, 2, 3, 100, 5, -100];
        float[] mask = [1, 1, 1, 0, 1, 0];
        var output = new float[6];
        LmPpoMath.Whiten(x, mask, output);
        // masked values 1, 2, 3, 5: mean 2.75, unbiased variance 2.9166…
        double sd = Math.Sqrt((1.75 * 1.75 + 0.75 * 0.75 + 0.25 * 0.25 + 2.25 * 2.25) / 3);
        Assert.Equal(-1.75 / sd, output[0], 5);
        Assert.Equal(2.25 / sd, output[4], 5);
        Assert.Equal(0f, output[3]);
        Assert.Equal(0f, output[5]);
    }

    [Fact]
    public void Gae_OverEachSamplesOwnLength_MatchesHandComputation()
    {
        // Two samples, max length 3; the second has length 2. γ = 1, λ = 0.5.
        float[] rewards = [0.1f, -0.2f, 1.0f, 0.5f, 2.0f, 9f];
        float[] values = [0.3f, 0.6f, 0.9f, 1.0f, 0.2f, 9f];
        var adv = new float[6];
        var ret = new float[6];
        LmPpoMath.Gae(rewards, values, [3, 2], 3, 1f, 0.5f, adv, ret);
        float d2 = 1.0f - 0.9f, d1 = -0.2f + 0.9f - 0.6f, d0 = 0.1f + 0.6f - 0.3f;
        Assert.Equal(d2, adv[2], 5);
        Assert.Equal(d1 + 0.5f * d2, adv[1], 5);
        Assert.Equal(d0 + 0.5f * (d1 + 0.5f * d2), adv[0], 5);
        float e1 = 2.0f - 0.2f, e0 = 0.5f + 0.2f - 1.0f;
        Assert.Equal(e1, adv[4], 5);
        Assert.Equal(e0 + 0.5f * e1, adv[3], 5);
        Assert.Equal(0f, adv[5]);
        Assert.Equal(adv[3] + 1.0f, ret[3], 5);
    }

    [Fact]
    public void LeaveOneOut_EachScoreAgainstTheMeanOfItsGroupsOthers()
    {
        double[] scores = [1, 2, 6, 10, 0, 0, 3, 9];
        Assert.Equal(scores, LmPpoMath.LeaveOneOut(scores, 1));
        double[] groups = LmPpoMath.LeaveOneOut(scores, 4);
        Assert.Equal((1 - (2 + 6 + 10) / 3.0, 10 - (1 + 2 + 6) / 3.0, 9 - (0 + 0 + 3) / 3.0), (groups[0], groups[3], groups[7]));
        Assert.Equal([1 - 2, 2 - 1, 6 - 10, 10 - 6], LmPpoMath.LeaveOneOut(scores, 2).Take(4));
        // A constant added to one group's scores (the prompt's share of the score) leaves its centred scores unchanged.
        double[] shifted = [.. scores.Take(4).Select(v => v + 100), .. scores.Skip(4)];
        Assert.Equal(groups.Select(v => Math.Round(v, 9)), LmPpoMath.LeaveOneOut(shifted, 4).Select(v => Math.Round(v, 9)));
        Assert.Throws<ArgumentException>(() => LmPpoMath.LeaveOneOut(scores, 3));
    }

    [Fact]
    public void Settings_BadValues_NameTheSetting()
    {
        var s = new LmPpoSettings();
        Assert.Equal("'lm-ppo.minibatches': 5 does not divide lm-ppo.batch 32", Assert.Throws<SoupInputException>(() => (s with { Minibatches = 5 }).Validate()).Message);
        Assert.Equal("'lm-ppo.responses_per_prompt': 3 does not divide lm-ppo.batch 32", Assert.Throws<SoupInputException>(() => (s with { ResponsesPerPrompt = 3 }).Validate()).Message);
        Assert.Contains("'lm-ppo.lr': must be > 0, got 0", Assert.Throws<SoupInputException>(() => (s with { Lr = 0 }).Validate()).Message);
        Assert.Contains("kl_target", Assert.Throws<SoupInputException>(() => (s with { KlTarget = -1 }).Validate()).Message);
        Assert.Contains("gamma", Assert.Throws<SoupInputException>(() => (s with { Gamma = 0 }).Validate()).Message);
        Assert.Contains("lam", Assert.Throws<SoupInputException>(() => (s with { Lam = 1.5f }).Validate()).Message);
        Assert.Contains("response_max 3 is below response_min 16", Assert.Throws<SoupInputException>(() => (s with { ResponseMax = 3 }).Validate()).Message);
        Assert.Contains("temperature", Assert.Throws<SoupInputException>(() => (s with { Temperature = -1 }).Validate()).Message);
        Assert.Contains("max_grad_norm", Assert.Throws<SoupInputException>(() => (s with { MaxGradNorm = 0 }).Validate()).Message);
    }

    // A tiny task: prompts of 4 letters, responses of 6–10 letters; the score is the fraction of 'a's in
    // the response text. The untrained model says 'a' about 1/16 of the time.
    private static readonly LmPpoSettings Tiny = new()
    {
        Batch = 32, Minibatches = 2, Epochs = 4, Lr = 3e-3, PromptTokens = 4, ResponseMin = 6, ResponseMax = 10,
        KlInit = 0.05, KlTarget = 2, KlHorizon = 2000,
    };

    private static double[] FractionOfA(IReadOnlyList<LmSample> batch) => batch.Select(s => s.Response.Count(c => c == 'a') / (double)s.Response.Length).ToArray();

    private string Base()
    {
        string folder = _dir.File("base");
        if (!Directory.Exists(folder))
        {
            using var model = TinyGpt.Create(7);
            TinyGpt.Save(model, folder);
        }
        return folder;
    }

    private LmPpoSpec Spec(long samples, int seed = 1, LmPpoSettings? ppo = null, LmScorer? scorer = null, double dropout = 0)
    {
        var random = new Random(3);
        var prompts = Enumerable.Range(0, 50).Select(i => new LmPrompt(new string(Enumerable.Range(0, 6).Select(_ => (char)('a' + random.Next(16))).ToArray()), i)).ToList();
        return new LmPpoSpec(Base(), TinyGpt.Tokenizer(), "tiny-letters", prompts, scorer ?? FractionOfA, "fraction-of-a",
            new LoraSettings { Rank = 4, Alpha = 8, Targets = ["c_attn", "c_fc"], Dropout = dropout }, ppo ?? Tiny, seed, samples);
    }

    [Fact]
    public void Run_TinyModel_ScoreRisesClearly_WhileKlStaysFinite()
    {
        string dir = _dir.File("run");
        var logs = new List<LmUpdateLog>();
        LmPpoResult result = LmPpoRun.Run(dir, Spec(32 * 40), logs.Add);
        Assert.Equal(40, result.Updates);
        Assert.Equal(1280, result.Samples);
        double start = logs.Take(3).Average(l => l.ScoreMean), end = logs.TakeLast(3).Average(l => l.ScoreMean);
        Assert.True(end > start + 0.15 && end > 3 * start, $"score {start:F3} → {end:F3}\n" + File.ReadAllText(Path.Combine(dir, LmPpoRun.LogFile)));
        Assert.All(logs, l => Assert.True(double.IsFinite(l.Kl) && double.IsFinite(l.PolicyLoss) && double.IsFinite(l.ValueLoss) && l.Entropy > 0));
        Assert.True(logs[^1].Kl > 0.1, "the policy moved away from the reference");
        Assert.InRange(logs.Average(l => l.ResponseLength), 7, 9);
        Assert.True(logs[^1].KlCoef != logs[0].KlCoef, "β adapts");

        // The product: a PEFT adapter that, loaded onto the base, writes more 'a's than the base does.
        Assert.True(LoraSoup.IsAdapterFolder(result.AdapterPath));
        Assert.True(File.Exists(result.ValueHeadPath));
        string[] prompts = Spec(1).Prompts.Select(p => p.Text).ToArray();
        var sampling = Tiny.Sampling;
        double Fraction(string[] responses) => responses.Sum(r => r.Count(c => c == 'a')) / (double)responses.Sum(r => r.Length);
        using var model = Gpt2Model.Load(Base());
        double before = Fraction(Gpt2Sampling.GenerateText(model, TinyGpt.Tokenizer(), prompts, 4, sampling, seed: 5));
        using (Gpt2Lora lora = Gpt2Lora.Load(model, result.AdapterPath)) lora.MergeAndUnload();
        double after = Fraction(Gpt2Sampling.GenerateText(model, TinyGpt.Tokenizer(), prompts, 4, sampling, seed: 5));
        Assert.True(after > before + 0.15, $"'a' fraction {before:F3} → {after:F3}");

        string[] log = File.ReadAllLines(Path.Combine(dir, LmPpoRun.LogFile));
        Assert.StartsWith("update,samples,env/score_mean,env/score_std,objective/kl,objective/kl_coef", log[0]);
        Assert.Equal(41, log.Length);
    }

    [Fact]
    public void Run_ResponsesPerPrompt_SamplesEachPromptInAGroup_AndLearnsThroughAPromptOffset()
    {
        // The score: the fraction of 'a's plus an offset decided by the prompt alone, up to 60 times what
        // a response can change. Centred within each prompt's group, the offset is gone and the 'a's still rise.
        var batches = new List<IReadOnlyList<LmSample>>();
        double[] WithOffset(IReadOnlyList<LmSample> batch)
        {
            batches.Add(batch);
            return FractionOfA(batch).Select((f, i) => f + 10.0 * ((int)batch[i].Item! % 7)).ToArray();
        }
        var logs = new List<LmUpdateLog>();
        LmPpoRun.Run(_dir.File("grouped"), Spec(32 * 30, ppo: Tiny with { ResponsesPerPrompt = 4 }, scorer: WithOffset), logs.Add);
        Assert.Equal(30, batches.Count);
        foreach (IReadOnlyList<LmSample> batch in batches)
        {
            var groups = batch.Chunk(4).Select(g => g.Select(x => (int)x.Item!).Distinct().ToList()).ToList();
            Assert.All(groups, g => Assert.Single(g));
            Assert.True(groups.Select(g => g[0]).Distinct().Count() >= 7, "a batch holds 8 prompts (a pass boundary may repeat one)");
        }
        Assert.Equal(50, batches.SelectMany(b => b).Select(x => (int)x.Item!).Distinct().Count());
        double Fraction(IEnumerable<IReadOnlyList<LmSample>> some) => some.SelectMany(b => b).Average(x => x.Response.Count(c => c == 'a') / (double)x.Response.Length);
        double start = Fraction(batches.Take(3)), end = Fraction(batches.TakeLast(3));
        Assert.True(end > start + 0.15, $"'a' fraction {start:F3} → {end:F3}");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.2)]   // the dropout masks come from the trainer's generator, which the checkpoint holds
    public void Run_KilledAfterAnUpdate_ResumesToTheSameAdapter(double dropout)
    {
        var settings = Tiny with { Batch = 16 };
        string straight = _dir.File("straight");
        var all = new List<LmUpdateLog>();
        LmPpoRun.Run(straight, Spec(16 * 5, ppo: settings, dropout: dropout), all.Add);

        string killed = _dir.File("killed");
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            LmPpoRun.Run(killed, Spec(16 * 5, ppo: settings, dropout: dropout), log => { if (log.Update == 2) cancel.Cancel(); }, cancel.Token));
        Assert.False(Directory.Exists(Path.Combine(killed, LmPpoRun.AdapterFolder)));
        var resumed = new List<LmUpdateLog>();
        LmPpoResult result = LmPpoRun.Run(killed, Spec(16 * 5, ppo: settings, dropout: dropout), resumed.Add);
        Assert.True(result.Resumed);
        Assert.Equal([3, 4, 5], resumed.Select(l => l.Update));
        Assert.Equal(all.Skip(2).Select(l => (l.ScoreMean, l.Kl, l.KlCoef, l.PolicyLoss)), resumed.Select(l => (l.ScoreMean, l.Kl, l.KlCoef, l.PolicyLoss)));
        string factors = Path.Combine(LmPpoRun.AdapterFolder, LoraSoup.ModelFile);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, factors)), File.ReadAllBytes(Path.Combine(killed, factors)));
        Assert.Equal(["1", "2", "3", "4", "5"], File.ReadAllLines(Path.Combine(killed, LmPpoRun.LogFile)).Skip(1).Select(l => l.Split(',')[0]));

        if (dropout > 0)
        {
            // The dropout is applied: without it the same seed trains another adapter.
            string plain = _dir.File("plain");
            LmPpoRun.Run(plain, Spec(16 * 5, ppo: settings));
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(plain, factors)), File.ReadAllBytes(Path.Combine(straight, factors)));
        }

        // Finished: not redone, the adapter untouched.
        DateTime written = File.GetLastWriteTimeUtc(Path.Combine(killed, factors));
        LmPpoResult again = LmPpoRun.Run(killed, Spec(16 * 5, ppo: settings, dropout: dropout));
        Assert.Null(again.Last);
        Assert.Equal(5, again.Updates);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(killed, factors)));
    }

    [Fact]
    public void Run_OtherSettingsInSameFolder_Refused()
    {
        string dir = _dir.File("run");
        var settings = Tiny with { Batch = 8, Epochs = 1 };
        LmPpoRun.Run(dir, Spec(8, ppo: settings));
        var e = Assert.Throws<SoupInputException>(() => LmPpoRun.Run(dir, Spec(8, seed: 2, ppo: settings)));
        Assert.Contains("holds a training with other settings", e.Message);
        var e2 = Assert.Throws<SoupInputException>(() => LmPpoRun.Run(dir, Spec(8, ppo: settings with { Lr = 1e-4 })));
        Assert.Contains("holds a training with other settings", e2.Message);
        string settingsJson = File.ReadAllText(Path.Combine(dir, LmPpoRun.SettingsFile));
        Assert.Contains("\"scorer\": \"fraction-of-a\"", settingsJson);
        Assert.Contains(Tiny.Lr.ToString(CultureInfo.InvariantCulture), settingsJson);
    }
}
