using System.Text.Json;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>
/// The text pipeline on its tiny configuration: a real GPT pre-trained on the Brown corpus, LM-PPO
/// with LoRA on the real rewards (AFINN-165, MiniLM), LoRA soups in both modes, child job processes.
/// </summary>
public sealed class TextPipelineTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Run_TextTiny_ResultsCompareBothLoraSoupModesAndReportThePerplexity()
    {
        string run = _dir.File("run");
        var r = SharedRuns.CopyTo("text-tiny", run);
        Assert.True(r.Exit == 0, r.Err);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "results.json")));
        JsonElement root = doc.RootElement;
        Assert.Equal("reviews", root.GetProperty("task").GetString());
        Assert.Equal(["positive", "faithful"], root.GetProperty("rewards").EnumerateArray().Select(e => e.GetString()));
        var policies = root.GetProperty("policies").EnumerateArray().ToList();
        Assert.Equal(["init", "expert", "expert", "soup", "soup", "soup", "soup-factors", "soup-factors", "soup-factors",
                "soup-ties", "soup-ties", "soup-ties", "soup-slerp", "soup-slerp", "soup-slerp", "ensemble", "morl"],
            policies.Select(p => p.GetProperty("kind").GetString()));
        Assert.Equal(["delta", "factors", "ties", "slerp"], root.GetProperty("soup_modes").EnumerateArray().Select(m => m.GetProperty("mode").GetString()));
        // The output-space ensemble at (0.5, 0.5): both experts compute every token position a soup computes once.
        Assert.Equal(2.0, root.GetProperty("ensemble").GetProperty("inference").GetProperty("forward_pass_ratio").GetDouble());
        Assert.Equal("RL responses", root.GetProperty("cost").GetProperty("unit").GetString());
        Assert.Equal(0, root.GetProperty("cost").GetProperty("pretrain_steps").GetInt64());
        Assert.Equal(16, root.GetProperty("cost").GetProperty("steps_per_training").GetInt64());

        // The init's validation loss is measured and finite, and the supervised stage lowered it on the held-out reviews.
        JsonElement init = root.GetProperty("init_details");
        double before = init.GetProperty("sft_valid_loss_before").GetDouble(), after = init.GetProperty("sft_valid_loss").GetDouble();
        Assert.True(double.IsFinite(after) && after < before, $"reviews' validation loss {before} → {after}");
        Assert.True(init.GetProperty("pretrain_valid_loss").GetDouble() < Math.Log(2049), "pre-training beats the uniform distribution");
        // The base came from the cache (trained there by this run or an earlier one with the same keys), named by its hash.
        string baseHash = init.GetProperty("base").GetProperty("hash").GetString()!;
        Assert.Equal(Path.Combine(init.GetProperty("base_folder").GetString()!), Path.Combine(RewardedSoups.Tasks.Text.TextBase.CacheRoot(), "text-base", baseHash));
        Assert.Equal(["brown"], init.GetProperty("base").GetProperty("spec").GetProperty("corpora").EnumerateArray().Select(c => c.GetString()));

        // Policies are PEFT adapter folders on a Hugging Face GPT-2 folder.
        Assert.True(File.Exists(Path.Combine(run, "jobs", "s1-init", "model", "config.json")));
        Assert.True(File.Exists(Path.Combine(run, "jobs", "s1-expert-1", "adapter", "adapter_config.json")));
        Assert.Equal(Path.Combine("jobs", "s1-expert-1", "adapter"), policies[1].GetProperty("checkpoint").GetString());

        // The TIES and SLERP soups merge the experts' ΔW = s·B·A exactly: the soup job's adapter is LoraMethodSoup's, byte for byte,
        // a dense ΔW factorised exactly (rank = the model's width, 32).
        string[] experts = [Path.Combine(run, "jobs", "s1-expert-1", "adapter"), Path.Combine(run, "jobs", "s1-expert-2", "adapter")];
        foreach ((string id, string name, string? baseModel) in new[] { ("s1-soup-ties-02", "ties", (string?)null), ("s1-soup-slerp-02", "slerp", Path.Combine(run, "jobs", "s1-init", "model")) })
        {
            IMergeMethod method = MergeMethods.Get(name);
            ISettingsSection parameters = name == "ties" ? new TiesParameters { Density = 0.5 } : method.DefaultParameters;
            string direct = _dir.File($"direct-{name}");
            LoraMethodSoup.Merge(experts, [0.5, 0.5], direct, method, parameters, baseModel);
            Assert.Equal(TensorBytes(Path.Combine(direct, "adapter_model.safetensors")), TensorBytes(Path.Combine(run, "jobs", id, "adapter", "adapter_model.safetensors")));
            Assert.Equal(32, LoraSoup.ReadConfig(Path.Combine(run, "jobs", id, "adapter")).Rank);
        }

        // A one-hot soup (either mode) is its expert's adapter, so it samples the same texts: the same rewards.
        foreach (int soup in new[] { 3, 6 })
        {
            Assert.Equal([1.0, 0.0], policies[soup].GetProperty("lambda").EnumerateArray().Select(e => e.GetDouble()));
            double[] expert = policies[1].GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double[] vertex = policies[soup].GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int i = 0; i < 2; i++) Assert.Equal(expert[i], vertex[i], 6);
        }
        // Rewards are real scores: faithfulness is a cosine similarity, positivity an AFINN comparative score.
        foreach (JsonElement p in policies)
        {
            double faithful = p.GetProperty("mean")[1].GetDouble();
            Assert.InRange(faithful, -1, 1);
        }
        // Gains over the init are paired episode by episode: their mean is the difference of the means.
        Assert.Equal(JsonValueKind.Null, policies[0].GetProperty("gain").ValueKind);
        double[] initMean = policies[0].GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        foreach (JsonElement p in policies.Skip(1))
        {
            JsonElement gain = p.GetProperty("gain");
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(p.GetProperty("mean")[i].GetDouble() - initMean[i], gain.GetProperty("mean")[i].GetDouble(), 9);
                Assert.InRange(gain.GetProperty("mean")[i].GetDouble(), gain.GetProperty("low")[i].GetDouble(), gain.GetProperty("high")[i].GetDouble());
            }
        }
        Assert.Contains("paired gain", r.Out);
        Assert.Contains("Soup modes", r.Out);
        Assert.Equal("continuations", root.GetProperty("evaluation_unit").GetString());
        Assert.Contains("8 continuations per policy", r.Out); // one per held-out prompt, 8 prompts × 1 evaluation seed
        Assert.True(File.Exists(Path.Combine(run, "report.html")));

        // One seed, one machine, the same numbers: the trainings, a soup and evaluations redone in another folder of the
        // same plan, job by job (other processes, as a scheduler would run them), give the same adapters, tensor for
        // tensor, and the same evaluation files, byte for byte. (Not the whole run again: the rest of its jobs are
        // these kinds, and the suite's time is better spent elsewhere.)
        string again = _dir.File("again");
        Directory.CreateDirectory(again);
        File.Copy(Path.Combine(run, "config.resolved.json"), Path.Combine(again, "config.resolved.json"));
        string[] trainings = ["s1-init", "s1-expert-1", "s1-expert-2", "s1-morl-1", "s1-soup-ties-02"];
        string[] evaluations = ["s1-init-eval", "s1-expert-2-eval", "s1-morl-1-eval", "s1-soup-ties-02-eval"];
        foreach (string job in trainings.Concat(evaluations))
        {
            // A child process each (not in-process: another test's in-process command may set libtorch's thread count meanwhile).
            var rj = CliRunner.RunProcess("job", again, job);
            Assert.True(rj.Exit == 0, $"soup job {job}: {rj.Err}");
        }
        foreach (string job in trainings.Skip(1))
            Assert.True(TensorBytes(Path.Combine(run, "jobs", job, "adapter", "adapter_model.safetensors"))
                .SequenceEqual(TensorBytes(Path.Combine(again, "jobs", job, "adapter", "adapter_model.safetensors"))), $"{job}'s adapter differs between two runs");
        Assert.Equal(TensorBytes(Path.Combine(run, "jobs", "s1-init", "model", "model.safetensors")), TensorBytes(Path.Combine(again, "jobs", "s1-init", "model", "model.safetensors")));
        foreach (string job in evaluations)
            Assert.True(File.ReadAllBytes(Path.Combine(run, "jobs", job, "eval.json")).SequenceEqual(File.ReadAllBytes(Path.Combine(again, "jobs", job, "eval.json"))),
                $"{job}'s evaluation differs between two runs");
    }

    /// <summary>A safetensors file's data section (its header may name the run folder).</summary>
    private static byte[] TensorBytes(string path)
    {
        byte[] all = File.ReadAllBytes(path);
        long header = BitConverter.ToInt64(all, 0);
        return all[(int)(8 + header)..];
    }

    [Theory]
    [InlineData("text: {bogus: 1}", "'text.bogus': unknown key")]
    [InlineData("text: {width: 30, heads: 4}", "'text.width': 30 is not a multiple of text.heads 4")]
    [InlineData("text: {soup_modes: [delta, average]}", "'text.soup_modes'")]
    [InlineData("text: {model: /nonexistent}", "'text.model': '/nonexistent' is neither 'builtin' nor a folder with config.json")]
    [InlineData("text: {lora: {targets: [q_proj]}}", "'q_proj' is not a GPT-2 layer")]
    [InlineData("text: {ppo: {batch: 6, minibatches: 4}}", "'text.ppo.minibatches': 4 does not divide text.ppo.batch 6")]
    [InlineData("text: {response_max: 80}", "exceed the context of 64")]
    [InlineData("ppo: {envs: 2}", "'ppo': unknown key; valid here:")]
    public void Run_BadTextSettings_OneLineErrorExit2(string extra, string expected)
    {
        string config = _dir.File("bad.yaml");
        File.WriteAllText(config, $"name: x\ntask: reviews\npretrain: {{steps: 10}}\nexperts: {{rewards: [positive, faithful], steps: 8}}\n{extra}\n");
        var r = CliRunner.Run("run", config, "--out", _dir.File("never"));
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
        Assert.Single(r.ErrLines);
        Assert.False(Directory.Exists(_dir.File("never")));
    }

    [Fact]
    public void Run_TextInitWithAReward_Refused()
    {
        string config = _dir.File("bad.yaml");
        File.WriteAllText(config, "name: x\ntask: reviews\npretrain: {reward: positive, steps: 10}\nexperts: {rewards: [positive, faithful], steps: 8}\n");
        var r = CliRunner.Run("run", config, "--out", _dir.File("never"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("'pretrain.reward': the text init is pre-trained without a reward", r.Err);
    }
}
