using System.Text.Json;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>train → merge → eval end to end on the real cheetah (MuJoCo, TorchSharp) with a tiny budget.</summary>
public sealed class TrainEvalCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Tiny = ["--envs", "4", "--rollout-steps", "64", "--minibatches", "2", "--epochs", "2"];

    private CliRunner.Result Train(string output, string reward, string task = "cheetah", string? init = null, int steps = 512)
    {
        var args = new List<string> { "train", "--task", task, "--reward", reward, "--steps", steps.ToString(), "-o", _dir.File(output) };
        args.AddRange(Tiny);
        if (init is not null) args.AddRange(["--init", init]);
        return CliRunner.Run([.. args]);
    }

    [Fact]
    public void TrainMergeEval_SharedInitTwoExpertsAndTheirSoup()
    {
        Assert.Equal(0, Train("init", "forward_velocity=1,control_cost=-0.1").Exit);
        string init = Path.Combine(_dir.File("init"), "policy.safetensors");
        var risky = Train("risky", "risky", init: init);
        Assert.True(risky.Exit == 0, risky.Err);
        Assert.Equal(0, Train("cautious", "cautious", init: init).Exit);
        string[] log = File.ReadAllLines(Path.Combine(_dir.File("risky"), "train_log.csv"));
        Assert.Equal(3, log.Length); // header + 2 updates of 256 steps
        string soup = _dir.File("soup.safetensors");
        var merge = CliRunner.Run("merge", "-o", soup, "--weights", "0.5,0.5",
            Path.Combine(_dir.File("risky"), "policy.safetensors"), Path.Combine(_dir.File("cautious"), "policy.safetensors"));
        Assert.Equal(0, merge.Exit);

        var eval = CliRunner.Run("eval", soup, "--episodes", "3", "--json");
        Assert.True(eval.Exit == 0, eval.Err);
        using JsonDocument doc = JsonDocument.Parse(eval.Out);
        Assert.Equal("cheetah", doc.RootElement.GetProperty("task").GetString());
        var rewards = doc.RootElement.GetProperty("rewards").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(["risky", "cautious"], rewards.Keys);
        foreach (JsonElement r in rewards.Values)
        {
            Assert.Equal(3, r.GetProperty("returns").GetArrayLength());
            Assert.True(r.GetProperty("low").GetDouble() <= r.GetProperty("mean").GetDouble());
        }
        // cautious = risky − Σ‖a‖², episode by episode.
        double[] rr = rewards["risky"].GetProperty("returns").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] cc = rewards["cautious"].GetProperty("returns").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.All(rr.Zip(cc), p => Assert.True(p.First >= p.Second));

        var table = CliRunner.Run("eval", Path.Combine(_dir.File("risky"), "policy.safetensors"), "--episodes", "2");
        Assert.Equal(0, table.Exit);
        Assert.Contains("95% CI", table.Out);
        Assert.Contains("term control_cost", table.Out);
    }

    [Fact]
    public void Train_UnknownRewardTerm_Exit2ListingTerms()
    {
        var r = Train("x", "speed=1");
        Assert.Equal(2, r.Exit);
        Assert.Contains("unknown reward term 'speed'; this task has: forward_velocity, control_cost", r.ErrLines.Single());
    }

    [Fact]
    public void Train_UnknownRewardName_Exit2()
    {
        var r = Train("x", "fast");
        Assert.Equal(2, r.Exit);
        Assert.Contains("unknown reward 'fast' for task 'cheetah'; named rewards: risky, cautious", r.ErrLines.Single());
    }

    [Fact]
    public void Train_UnknownTask_Exit2()
    {
        var r = Train("x", "risky", task: "walker");
        Assert.Equal(2, r.Exit);
        Assert.Contains("unknown task 'walker'; valid: cheetah, hopper, humanoid, reviews, fashion", r.Err);
    }

    [Fact]
    public void Train_InitOfAnotherTask_Exit2()
    {
        Assert.Equal(0, Train("hop", "risky", task: "hopper").Exit);
        var r = Train("x", "risky", init: Path.Combine(_dir.File("hop"), "policy.safetensors"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("a policy for task 'hopper', not 'cheetah'", r.Err);
    }

    [Fact]
    public void Eval_ZeroThreads_Exit2NamingIt()
    {
        string path = Synthetic.Write(_dir.File("model.safetensors"), Synthetic.Model(1, RewardedSoups.Checkpoints.DType.F32));
        var r = CliRunner.Run("eval", path, "--threads", "0");
        Assert.Equal(2, r.Exit);
        Assert.Equal("error: --threads must be ≥ 1, got 0", r.ErrLines.Single());
    }

    [Fact]
    public void Eval_NotAPolicy_Exit2()
    {
        string path = Synthetic.Write(_dir.File("model.safetensors"), Synthetic.Model(1, RewardedSoups.Checkpoints.DType.F32));
        var r = CliRunner.Run("eval", path);
        Assert.Equal(2, r.Exit);
        Assert.Contains("metadata 'rs.task' missing; not a RewardedSoups policy checkpoint", r.Err);
    }

    /// <summary>The text family through the same command: an init pre-trained without a reward, an expert fine-tuned from it, each folder evaluated.</summary>
    [Fact]
    public void TrainEval_TextFamily_InitThenExpertThroughTheFamily()
    {
        string[] tiny = ["--set", "vocab=2048", "--set", "layers=1", "--set", "width=32", "--set", "heads=2", "--set", "context=32", "--set", "batch=8",
            "--set", "sft_steps=5", "--set", "response_min=6", "--set", "response_max=8", "--set", "lora.rank=2", "--set", "lora.alpha=4",
            "--set", "ppo.batch=8", "--set", "ppo.minibatches=2", "--set", "ppo.epochs=1", "--set", "lora.targets=[c_attn, c_fc]"];
        var init = CliRunner.Run(["train", "--task", "reviews", "--steps", "20", "-o", _dir.File("init"), .. tiny]);
        Assert.True(init.Exit == 0, init.Err);
        Assert.Contains("trained an init of reviews (0 RL responses)", init.Out);
        Assert.True(File.Exists(Path.Combine(_dir.File("init"), "model", "config.json")));
        // 10 responses asked, spent in whole PPO batches of 8: 16.
        var expert = CliRunner.Run(["train", "--task", "reviews", "--reward", "positive", "--init", _dir.File("init"), "--steps", "10", "-o", _dir.File("positive"), .. tiny]);
        Assert.True(expert.Exit == 0, expert.Err);
        Assert.Contains("trained an expert of reviews (16 RL responses)", expert.Out);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(_dir.File("positive"), "train_log.csv")).Length); // header + 2 updates

        var eval = CliRunner.Run(["eval", _dir.File("positive"), "--task", "reviews", "--init", _dir.File("init"), "--episodes", "4", "--json", .. tiny]);
        Assert.True(eval.Exit == 0, eval.Err);
        using JsonDocument doc = JsonDocument.Parse(eval.Out);
        var rewards = doc.RootElement.GetProperty("rewards").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(["positive", "faithful"], rewards.Keys);
        foreach (JsonElement r in rewards.Values)
        {
            Assert.Equal(4, r.GetProperty("returns").GetArrayLength());
            Assert.InRange(r.GetProperty("mean").GetDouble(), -1, 1);   // both rewards are in [−1, 1] per response
        }
    }

    [Theory]
    [InlineData(new[] { "--reward", "positive" }, "the text init is pre-trained without a reward; drop --reward")]
    [InlineData(new[] { "--envs", "4" }, "--envs is an option of locomotion's PPO; for task 'reviews' give its text keys with --set")]
    [InlineData(new[] { "--set", "ppo.batch=0" }, "command line: 'text.ppo.batch': expected a whole number ≥ 2, got 0")]
    [InlineData(new[] { "--set", "ppo.colour=1" }, "command line: 'text.ppo.colour': unknown key")]
    [InlineData(new[] { "--set", "batch" }, "--set 'batch': expected KEY=VALUE")]
    [InlineData(new[] { "--init", "/nonexistent" }, "--init /nonexistent: holds no text init")]
    [InlineData(new[] { "--set", "ppo.lr=NaN" }, "--set ppo.lr: NaN is not a finite number")]                 // typed as a configuration file's value
    [InlineData(new[] { "--set", "lora.targets=[c_attn, q_proj]" }, "'text.lora.targets': 'q_proj' is not a GPT-2 layer")]  // a YAML list
    public void Train_TextFamily_BadInput_Exit2OneLine(string[] extra, string expected)
    {
        var r = CliRunner.Run(["train", "--task", "reviews", "--steps", "1", "-o", _dir.File("x"), .. extra]);
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.ErrLines.Single());
        Assert.False(Directory.Exists(_dir.File("x")));
    }

    [Fact]
    public void Eval_LocomotionJobFolder_SameReturnsAsItsPolicyFile()
    {
        Assert.Equal(0, Train("init", "risky").Exit);
        var folder = CliRunner.Run("eval", _dir.File("init"), "--task", "cheetah", "--episodes", "2", "--json");
        var file = CliRunner.Run("eval", Path.Combine(_dir.File("init"), "policy.safetensors"), "--episodes", "2", "--json");
        Assert.True(folder.Exit == 0, folder.Err);
        double[] Returns(string json, string reward)
        {
            using JsonDocument d = JsonDocument.Parse(json);
            return d.RootElement.GetProperty("rewards").EnumerateArray().Single(r => r.GetProperty("name").GetString() == reward)
                .GetProperty("returns").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        }
        Assert.Equal(Returns(file.Out, "cautious"), Returns(folder.Out, "cautious"));
        var noTask = CliRunner.Run("eval", _dir.File("init"));
        Assert.Equal(2, noTask.Exit);
        Assert.Contains("a job folder; give its --task", noTask.Err);
    }

    [Fact]
    public void TaskNames_AreTheCataloguesTasks() => Assert.Equal(RewardedSoups.Cli.Families.Catalogue.Tasks, RewardedSoups.Cli.Families.TaskNames);
}
