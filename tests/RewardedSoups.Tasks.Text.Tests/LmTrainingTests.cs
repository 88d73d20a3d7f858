using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using TorchSharp;

namespace RewardedSoups.Tests;

/// <summary>Causal language-model training of the GPT-2 layout: initialisation, schedule, loss going down, the saved folder loading back.</summary>
[Collection(nameof(LmPpoTests))]
public sealed class LmTrainingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public LmTrainingTests() => torch.set_num_threads(1);

    public void Dispose() => _dir.Dispose();

    /// <summary>A stream with structure to learn: "abcabd…" patterns over a 40-token vocabulary.</summary>
    private static int[] Stream(int length, int seed)
    {
        var rng = new Random(seed);
        var s = new int[length];
        for (int i = 0; i < length; i++) s[i] = i % 4 == 3 ? rng.Next(3) + 30 : (i % 4) * 7 + (i / 4 % 3);
        return s;
    }

    [Fact]
    public void FromScratch_StartsNearUniform_LossFallsWell_BelowIt()
    {
        var model = new Gpt2Model(new Gpt2Config(40, 32, 32, 2, 2));
        LmTraining.InitializeFromScratch(model, 1);
        int[] train = Stream(20_000, 1), valid = Stream(2_000, 2);
        double start = LmTraining.ValidationLoss(model, valid, 16, 16);
        Assert.InRange(start, Math.Log(40) - 0.2, Math.Log(40) + 0.2); // GPT-2 init: logits near zero
        var logs = LmTraining.Train(model, train, valid, new LmTrainSettings { Steps = 150, BatchSize = 16, Context = 16, WarmupSteps = 10, EvalEvery = 50, LearningRate = 1e-2 }, seed: 3);
        Assert.Equal([50, 100, 150], logs.Select(l => l.Step));
        double end = logs[^1].ValidLoss!.Value;
        // Three of four tokens are determined by position; the fourth is one of three: ≈ ln(3)/4 nats is the floor.
        Assert.True(end < 0.6 * start, $"validation loss {start:F3} → {end:F3}");
        Assert.Equal(end, LmTraining.ValidationLoss(model, valid, 16, 16), 5);
        model.Dispose();
    }

    [Fact]
    public void Schedule_WarmsUpLinearly_ThenCosineToATenth()
    {
        var s = new LmTrainSettings { Steps = 110, WarmupSteps = 10, LearningRate = 1.0 };
        Assert.Equal(0.1, s.LearningRateAt(0), 12);
        Assert.Equal(1.0, s.LearningRateAt(9), 12);
        Assert.Equal(1.0, s.LearningRateAt(10), 12);
        Assert.Equal(0.55, s.LearningRateAt(60), 12);
        Assert.Equal(0.1, s.LearningRateAt(110), 12);
    }

    [Fact]
    public void Train_SameSeed_SameWeights()
    {
        float[] Run()
        {
            var model = new Gpt2Model(new Gpt2Config(40, 32, 16, 1, 2));
            LmTraining.InitializeFromScratch(model, 5);
            LmTraining.Train(model, Stream(5_000, 1), [], new LmTrainSettings { Steps = 20, BatchSize = 8, Context = 16, WarmupSteps = 2, EvalEvery = 20 }, seed: 7);
            float[] w = model.parameters().First().data<float>().ToArray();
            model.Dispose();
            return w;
        }
        Assert.Equal(Run(), Run());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Train_StoppedAtALoggedPointAndResumed_GivesTheBytesOfATrainingNeverStopped(int stopAfterLogs)
    {
        var settings = new LmTrainSettings { Steps = 40, BatchSize = 8, Context = 16, WarmupSteps = 4, EvalEvery = 10 };
        int[] train = Stream(5_000, 1), valid = Stream(500, 2);
        (float[] Weights, List<LmTrainLog> Logs) Run(string? checkpoint, CancellationTokenSource? stop)
        {
            var model = new Gpt2Model(new Gpt2Config(40, 32, 16, 2, 2));
            LmTraining.InitializeFromScratch(model, 5);
            int seen = 0;
            var logs = LmTraining.Train(model, train, valid, settings, seed: 7, _ => { if (++seen == stopAfterLogs) stop?.Cancel(); }, stop?.Token ?? default, checkpoint);
            float[] w = model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
            model.Dispose();
            return (w, logs);
        }
        (float[] whole, List<LmTrainLog> wholeLogs) = Run(null, null);
        string path = _dir.File("state.safetensors");
        using (var stop = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() => Run(path, stop));
        Assert.True(File.Exists(path));
        (float[] resumed, List<LmTrainLog> resumedLogs) = Run(path, null);
        Assert.Equal(whole, resumed);
        Assert.Equal(wholeLogs.Select(l => (l.Step, l.TrainLoss, l.ValidLoss, l.LearningRate)), resumedLogs.Select(l => (l.Step, l.TrainLoss, l.ValidLoss, l.LearningRate)));

        // A checkpoint of other settings is refused, not continued.
        var model = new Gpt2Model(new Gpt2Config(40, 32, 16, 2, 2));
        var e = Assert.Throws<SoupInputException>(() => LmTraining.Train(model, train, valid, settings with { LearningRate = 1e-2 }, 7, checkpointPath: path));
        Assert.Contains("other settings", e.Message);
        model.Dispose();
    }

    [Fact]
    public void SavedFolder_LoadsBackAsTheSameModel_WithItsTokenizer()
    {
        var model = new Gpt2Model(new Gpt2Config(257, 32, 16, 1, 2));
        LmTraining.InitializeFromScratch(model, 2);
        string folder = _dir.File("model");
        Gpt2Folder.Save(model, folder, tokenizerPrefix: 256);
        using var loaded = Gpt2Model.Load(folder);
        using var tokens = torch.tensor(new long[] { 256, 72, 101, 108, 108, 111 }, [1, 6]);
        using (torch.no_grad())
        {
            Assert.Equal(model.call(tokens).data<float>().ToArray(), loaded.call(tokens).data<float>().ToArray());
        }
        var tokenizer = TextTokenizers.ForModel(folder, loaded.Config);
        Assert.Equal([256], tokenizer.EncodeToIds(TextTokenizers.EndOfText));
        model.Dispose();
    }

    [Theory]
    [InlineData(0, 8, 16, "steps must be ≥ 1")]
    [InlineData(10, 0, 16, "batch size must be ≥ 1")]
    [InlineData(10, 8, 1, "context must be ≥ 2")]
    public void Settings_OutOfRange_Refused(int steps, int batch, int context, string expected)
    {
        var s = new LmTrainSettings { Steps = steps, BatchSize = batch, Context = context };
        Assert.Contains(expected, Assert.Throws<SoupInputException>(() => s.Validate()).Message);
    }
}
