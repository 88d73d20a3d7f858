using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Cli.Commands;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>The whole pipeline on the tiny configuration: real MuJoCo, real PPO, child job processes.</summary>
public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Demo_TinyConfig_WritesResultsAndReportThenResumesWithoutRedoingJobs()
    {
        string run = _dir.File("run");
        var first = CliRunner.Run("demo", "--config", "tiny", "--out", run);
        Assert.True(first.Exit == 0, first.Err);
        Assert.Contains("report:", first.Out);
        using (JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "results.json"))))
        {
            JsonElement r = doc.RootElement;
            Assert.Equal(2, r.GetProperty("schema_version").GetInt32());
            Assert.Equal(JsonValueKind.Object, r.GetProperty("rs_vs_morl").GetProperty("hypervolume_difference").ValueKind);
            Assert.Contains("weight of expert i", r.GetProperty("lambda_convention").GetString());
            Assert.Equal(["risky", "cautious"], r.GetProperty("rewards").EnumerateArray().Select(e => e.GetString()));
            var policies = r.GetProperty("policies").EnumerateArray().ToList();
            // The λ search (2 rounds at μ = (0.5, 0.5)) adds soups where its proposals stay on the simplex and are new.
            Assert.Equal(["init", "expert", "expert", "soup", "soup", "soup", "ensemble", "morl"], policies.Select(p => p.GetProperty("kind").GetString()).Where(k => k != "search"));
            JsonElement search = r.GetProperty("preferences").GetProperty("search");
            Assert.Equal(4, search.GetProperty("proposals").GetInt32());
            Assert.Equal(policies.Count(p => p.GetProperty("kind").GetString() == "search"), search.GetProperty("soups").GetInt32());
            Assert.InRange(search.GetProperty("soups").GetInt32(), 2, 4); // round 1 moves from the best soup: one side at least is on the simplex
            Assert.Equal(search.GetProperty("soups").GetInt32(), search.GetProperty("evaluations").GetInt32());
            // A one-hot soup is its expert byte for byte, so it evaluates identically.
            JsonElement expert1 = policies[1], soupVertex = policies[3];
            Assert.Equal([1.0, 0.0], soupVertex.GetProperty("lambda").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Equal(expert1.GetProperty("mean").GetRawText(), soupVertex.GetProperty("mean").GetRawText());
            Assert.True(r.GetProperty("rs_front").GetProperty("hypervolume").GetDouble() >= 0);
            JsonElement cost = r.GetProperty("cost");
            Assert.Equal(cost.GetProperty("pretrain_steps").GetInt64() + 2 * cost.GetProperty("steps_per_training").GetInt64(), cost.GetProperty("rs_steps").GetInt64());
            Assert.Equal(3, cost.GetProperty("morl_trainings").GetInt32());
            Assert.Equal(3, r.GetProperty("lmc").GetProperty("gaps").GetArrayLength());
            // The experts' output-space ensemble at (0.5, 0.5): two networks per step where a soup runs one, counted exactly;
            // its measured time is in timings.json, not in results.json.
            JsonElement ensemble = r.GetProperty("ensemble");
            Assert.Equal(2.0, ensemble.GetProperty("inference").GetProperty("forward_pass_ratio").GetDouble());
            Assert.Equal([0.5, 0.5], policies[6].GetProperty("lambda").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Equal(cost.GetProperty("rs_steps").GetInt64(), ensemble.GetProperty("training_steps").GetInt64());
            Assert.DoesNotContain("seconds", File.ReadAllText(Path.Combine(run, "results.json")));
            using JsonDocument timings = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "timings.json")));
            Assert.True(timings.RootElement.GetProperty("ensemble_seconds_per_sample").GetDouble() > 0);
        }
        Assert.True(File.Exists(Path.Combine(run, "report.html")));
        Assert.True(File.Exists(Path.Combine(run, "results_policies.csv")));

        // soup prefer: λ*(μ) among the run's soups (chosen on each evaluation's first episode), its utility on the second.
        string preferred = _dir.File("preferred");
        var prefer = CliRunner.Run("prefer", run, "--mu", "0.5,0.5", "--json", "-o", preferred);
        Assert.True(prefer.Exit == 0, prefer.Err);
        using (JsonDocument p = JsonDocument.Parse(prefer.Out))
        {
            JsonElement item = p.RootElement.GetProperty("preference");
            Assert.Equal(["eu", "morl", "asked"], item.GetProperty("sources").EnumerateArray().Select(e => e.GetString()));
            double[] star = item.GetProperty("lambda_star").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            // λ*(μ) is one of the run's evaluated soups, of the grid or of the search: its job folder is its checkpoint's.
            using JsonDocument results = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "results.json")));
            JsonElement chosen = results.RootElement.GetProperty("policies").EnumerateArray()
                .Single(q => q.GetProperty("label").GetString() == item.GetProperty("lambda_star_label").GetString());
            Assert.Equal(star, chosen.GetProperty("lambda").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Contains(chosen.GetProperty("kind").GetString(), new[] { "expert", "soup", "search" });
            string soupJob = Path.GetDirectoryName(Path.Combine(run, chosen.GetProperty("checkpoint").GetString()!))!;
            if (chosen.GetProperty("kind").GetString() == "expert") soupJob = Path.Combine(run, "jobs", star[0] == 1 ? "s1-soup-01" : "s1-soup-03");
            using (JsonDocument eval = JsonDocument.Parse(File.ReadAllText(soupJob + "-eval/eval.json")))
            {
                JsonElement returns = eval.RootElement.GetProperty("Returns");
                double utility = 0.5 * returns[0][1].GetDouble() + 0.5 * returns[1][1].GetDouble();
                Assert.Equal(utility, item.GetProperty("test_star").GetProperty("mean").GetDouble(), 9);
            }
            // The soup written is the run's own soup of that λ, byte for byte.
            Assert.Equal(File.ReadAllBytes(Path.Combine(soupJob, "policy.safetensors")), File.ReadAllBytes(Path.Combine(preferred, "policy.safetensors")));
        }
        var badMu = CliRunner.Run("prefer", run, "--mu", "0.5,0.6");
        Assert.Equal(2, badMu.Exit);
        Assert.Equal("error: --mu: weights: sum to 1.1, not 1 (tolerance 1e-06)", Assert.Single(badMu.ErrLines));
        var wrongCount = CliRunner.Run("prefer", run, "--mu", "1");
        Assert.Equal(2, wrongCount.Exit);
        Assert.Contains("--mu: 1 weight(s) given for the run's 2 rewards (risky, cautious)", Assert.Single(wrongCount.ErrLines));
        var taken = CliRunner.Run("prefer", run, "--mu", "0.5,0.5", "-o", preferred);
        Assert.Equal(2, taken.Exit);
        Assert.Contains("exists and is not an empty folder", Assert.Single(taken.ErrLines));
        Assert.Single(Directory.GetFiles(preferred));

        // Interrupt-and-resume, as after a kill: remove one evaluation's completion marker.
        File.Delete(Path.Combine(run, "jobs", "s1-soup-02-eval", "job.json"));
        var again = CliRunner.Run("demo", "--config", "tiny", "--out", run);
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains("24 jobs, 23 already done, 1 to run", again.Err);

        // A job that fails stops the run with exit status 1, naming the job and its log.
        string expert = Path.Combine(run, "jobs", "s1-expert-1", "policy.safetensors");
        File.WriteAllBytes(expert, File.ReadAllBytes(expert)[..^7]);
        File.Delete(Path.Combine(run, "jobs", "s1-soup-02", "job.json"));
        var broken = CliRunner.Run("run", "tiny", "--out", run);
        Assert.Equal(1, broken.Exit);
        // The run's last line says which job failed, what it said it died of, and where its log is.
        Assert.Matches(@"job 's1-soup-02' failed \(exit status 2\): .*s1-expert-1/policy\.safetensors.*; its log: .*s1-soup-02/job\.log$", broken.ErrLines.Last());
        Assert.Contains("s1-expert-1/policy.safetensors", File.ReadAllText(Path.Combine(run, "jobs", "s1-soup-02", "job.log")));
    }

    [Fact]
    public void Run_DivergingTraining_StopsWithOneLineNamingJobAndStep_NothingMarkedDone()
    {
        // The shared init trains; then its policy file is corrupted with a NaN weight (as a bad disk or a
        // hand-edited file would): every fine-tuning from it computes a NaN loss on its first minibatch.
        string run = _dir.File("run");
        Runner.ExperimentRunner.Prepare(Runner.ExperimentConfig.Load(RunCommand.ResolveConfig("tiny"), Cli.Families.Catalogue), run);
        Assert.Equal(0, CliRunner.Run("job", run, "s1-init").Exit);
        string policy = Path.Combine(run, "jobs", "s1-init", "policy.safetensors");
        List<(TensorSpec, byte[])> tensors;
        Dictionary<string, string> metadata;
        using (Checkpoint c = Checkpoint.Open(policy))
        {
            metadata = c.Metadata.ToDictionary();
            tensors = c.Tensors.Select(t => (new TensorSpec(t.Info.Name, t.Info.DType, t.Info.Shape), t.File.ReadAll(t.Info))).ToList();
        }
        int weight = tensors.FindIndex(t => t.Item1.Name.EndsWith(".weight", StringComparison.Ordinal));
        BitConverter.GetBytes(float.NaN).CopyTo(tensors[weight].Item2, 0);
        SafetensorsWriter.WriteFile(policy, tensors, metadata);

        var job = CliRunner.Run("job", run, "s1-expert-1");
        Assert.Equal(1, job.Exit);
        Assert.Equal(["error: training diverged: loss NaN at PPO update 1, epoch 1, minibatch 1"], job.ErrLines.Where(l => l.StartsWith("error", StringComparison.Ordinal)));
        string expert = Path.Combine(run, "jobs", "s1-expert-1");
        Assert.False(File.Exists(Path.Combine(expert, "job.json")));
        Assert.False(File.Exists(Path.Combine(expert, "policy.safetensors")));
        Assert.False(File.Exists(Path.Combine(expert, "checkpoint.safetensors")));

        var result = CliRunner.Run("run", "tiny", "--out", run);
        Assert.Equal(1, result.Exit);
        Assert.Matches(@"^error: job 's1-(expert-\d|morl-\d+)' failed \(exit status 1\): training diverged: loss NaN at PPO update 1, epoch 1, minibatch 1; its log: .*job\.log$", result.ErrLines.Last());
        Assert.False(File.Exists(Path.Combine(run, "results.json")));
    }

    [Fact]
    public void Run_FolderAnotherRunIsUsing_RefusedNamingItsPid_NothingWritten()
    {
        string run = _dir.File("run");
        using (FolderLock.Acquire(run, "run folder"))   // as a first soup run on the folder would hold it
        {
            var second = CliRunner.Run("run", "tiny", "--out", run);
            Assert.Equal(1, second.Exit);
            Assert.Equal($"error: {run}: run folder is in use by process {Environment.ProcessId}; wait for it to finish, or stop it, and run again", second.ErrLines.Last());
            Assert.False(Directory.Exists(Path.Combine(run, "jobs")));
        }
    }

    [Fact]
    public void Run_FolderOfAnotherConfiguration_Refused()
    {
        string run = _dir.File("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "config.resolved.json"), "{}");
        var r = CliRunner.Run("run", "tiny", "--out", run);
        Assert.Equal(2, r.Exit);
        Assert.Contains("holds a run of another configuration", r.Err);
    }

    [Theory]
    [InlineData("name: x\ntask: cheetah\npretrain: {reward: risky, steps: 10}\nexperts: {rewards: [risky, cautious], steps: 10}\nbogus: 1\n", "'bogus': unknown key")]
    [InlineData("name: x\ntask: cheetah\npretrain: {reward: risky, steps: 10}\nexperts: {rewards: [risky], steps: 10}\n", "needs at least 2 experts")]
    [InlineData("name: x\ntask: cheetah\npretrain: {reward: risky, steps: 10}\nexperts: {rewards: [risky, cautious], steps: 10}\nmorl: {preferences: [1.0]}\n", "is an expert's own reward")]
    [InlineData("name: x\ntask: cheetah\npretrain: {reward: risky, steps: -1}\nexperts: {rewards: [risky, cautious], steps: 10}\n", "'pretrain.steps': expected a whole number")]
    [InlineData("name: x\ntask: cheetah\npretrain: {reward: speedy, steps: 10}\nexperts: {rewards: [risky, cautious], steps: 10}\n", "unknown reward 'speedy'")]
    [InlineData("name: x\ntask: walker\npretrain: {reward: risky, steps: 10}\nexperts: {rewards: [risky, cautious], steps: 10}\n", "unknown task 'walker'")]
    [InlineData("name: x\n  task: [\n", "not valid YAML")]
    public void Run_MalformedConfig_Exit2NamingTheKey(string yaml, string expected)
    {
        string path = _dir.File("bad.yaml");
        File.WriteAllText(path, yaml);
        var r = CliRunner.Run("run", path, "--out", _dir.File("run"));
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.ErrLines.Last());
    }
}
