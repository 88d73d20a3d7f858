using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Tests.Fixtures;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

public sealed class PpoTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly RewardFunction Closeness = new("closeness", new Dictionary<string, double> { ["closeness"] = 1 });

    private static PpoSettings Small => new() { Envs = 8, RolloutSteps = 100, Minibatches = 4, Epochs = 4, Lr = 3e-3 };

    [Fact]
    public void Gae_HandComputedTrajectory()
    {
        // One env, 3 steps, γ = 0.5, λ = 0.5; the episode ends at step 1, then a new one starts.
        float[] rewards = [1, 2, 3], values = [0.5f, 1, 2], lastValues = [4];
        bool[] ended = [false, true, false];
        var adv = new float[3];
        var ret = new float[3];
        Gae.Compute(rewards, values, ended, lastValues, 3, 1, 0.5f, 0.5f, adv, ret);
        // δ2 = 3 + 0.5·4 − 2 = 3; A2 = 3.
        // δ1 = 2 − 1 = 1 (terminal); A1 = 1.
        // δ0 = 1 + 0.5·1 − 0.5 = 1; A0 = 1 + 0.25·1 = 1.25.
        Assert.Equal([1.25f, 1f, 3f], adv);
        Assert.Equal([1.75f, 2f, 5f], ret);
    }

    [Fact]
    public void Policy_StateDictKeys_MatchCleanRlAgent()
    {
        using var policy = new GaussianPolicy(17, 6);
        // TorchSharp lists parameters before submodules; the names are what must match.
        string[] keys = policy.state_dict().Keys.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(
            new[] { "critic.0.weight", "critic.0.bias", "critic.2.weight", "critic.2.bias", "critic.4.weight", "critic.4.bias",
             "actor_mean.0.weight", "actor_mean.0.bias", "actor_mean.2.weight", "actor_mean.2.bias", "actor_mean.4.weight", "actor_mean.4.bias", "actor_logstd" }
                .Order(StringComparer.Ordinal),
            keys);
    }

    [Fact]
    public void Policy_LogProbAndEntropy_MatchTheGaussianFormula()
    {
        using var scope = NewDisposeScope();
        using var policy = new GaussianPolicy(2, 2);
        Tensor obs = tensor(new float[] { 0.3f, -0.2f }, [1, 2]);
        Tensor mean = policy.Mean(obs);
        Tensor act = mean + tensor(new float[] { 1f, -2f }, [1, 2]);
        (Tensor logp, Tensor entropy, _) = policy.Evaluate(obs, act);
        // log-std 0: log N(x; μ, 1) summed = −½(1 + 4) − 2·½ln(2π).
        Assert.Equal(-2.5 - Math.Log(2 * Math.PI), logp.item<float>(), 4);
        Assert.Equal(2 * (0.5 + 0.5 * Math.Log(2 * Math.PI)), entropy.item<float>(), 4);
    }

    [Fact]
    public void Policy_OrthogonalInit_RowsOrthonormalTimesGain()
    {
        using var scope = NewDisposeScope();
        using var policy = new GaussianPolicy(64, 6);
        Tensor w = policy.state_dict()["actor_mean.2.weight"];      // [64, 64]
        Tensor gram = w.matmul(w.t());
        Tensor expected = eye(64) * 2.0;
        Assert.True(allclose(gram, expected, rtol: 1e-4, atol: 1e-4));
        Assert.Equal(0f, policy.state_dict()["actor_mean.2.bias"].abs().max().item<float>());
    }

    [Fact]
    public void RunningMeanStd_Batches_EqualWholeDataStatistics()
    {
        var random = new Random(1);
        float[] all = Enumerable.Range(0, 300).Select(_ => (float)(random.NextDouble() * 10 - 3)).ToArray(); // [100, 3]
        var norm = new RunningMeanStd(3) { Count = 0 };
        norm.Update(all.AsSpan(0, 30), 10);
        norm.Update(all.AsSpan(30, 150), 50);
        norm.Update(all.AsSpan(180, 120), 40);
        for (int j = 0; j < 3; j++)
        {
            double mean = Enumerable.Range(0, 100).Average(r => (double)all[r * 3 + j]);
            double var = Enumerable.Range(0, 100).Average(r => Math.Pow(all[r * 3 + j] - mean, 2));
            Assert.Equal(mean, norm.Mean[j], 9);
            Assert.Equal(var, norm.Var[j], 9);
        }
        norm.Frozen = true;
        double before = norm.Mean[0];
        norm.Update(all, 100);
        Assert.Equal(before, norm.Mean[0]);
    }

    [Fact]
    public void Train_PointMass_ReturnImproves()
    {
        using var env = new PointMassEnv(8);
        using var policy = new GaussianPolicy(2, 1);
        var logs = new List<UpdateLog>();
        using var trainer = new PpoTrainer(env, Closeness, Small, seed: 1, policy, new RunningMeanStd(2));
        trainer.Train(8 * 100 * 25, logs.Add);
        Assert.Equal(25, logs.Count);
        double first = logs.Take(3).Average(l => l.EpisodicReturn), last = logs.TakeLast(3).Average(l => l.EpisodicReturn);
        Assert.True(last > first + 5, $"episodic return {first:F1} → {last:F1}");
        Assert.True(last > -12, $"final return {last:F1}");
        Assert.All(logs, l => Assert.True(double.IsFinite(l.PolicyLoss) && double.IsFinite(l.ValueLoss)));
    }

    [Fact]
    public void Train_SameSeed_SameNumbers()
    {
        double[] Run()
        {
            using var env = new PointMassEnv(8);
            using var policy = TorchRandom.Seeded(3, () => new GaussianPolicy(2, 1));
            var logs = new List<UpdateLog>();
            using var trainer = new PpoTrainer(env, Closeness, Small, seed: 7, policy, new RunningMeanStd(2));
            trainer.Train(8 * 100 * 3, logs.Add);
            return logs.Select(l => l.ValueLoss).Append(policy.state_dict()["actor_logstd"].sum().item<float>()).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Train_ManyUpdates_LiveTensorCountDoesNotGrow()
    {
        using var env = new PointMassEnv(4);
        using var policy = new GaussianPolicy(2, 1);
        using var trainer = new PpoTrainer(env, Closeness, Small with { Envs = 4, RolloutSteps = 50, Minibatches = 2, Epochs = 2 }, 1, policy, new RunningMeanStd(2));
        var live = new List<long>();
        trainer.Train(4 * 50 * 12, _ => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[^1]);
    }

    [Fact]
    public void StateTensors_RestoredIntoFreshTrainer_ReproduceEverything()
    {
        using var env = new PointMassEnv(8);
        using var policy = new GaussianPolicy(2, 1);
        using var trainer = new PpoTrainer(env, Closeness, Small, 1, policy, new RunningMeanStd(2));
        trainer.Train(8 * 100 * 2, _ => { });
        string path = Synthetic.Write(_dir.File("state.safetensors"), trainer.StateTensors().ToArray());

        using var env2 = new PointMassEnv(8);
        using var policy2 = new GaussianPolicy(2, 1);
        using var restored = new PpoTrainer(env2, Closeness, Small, 1, policy2, new RunningMeanStd(2));
        using (Checkpoint c = Checkpoint.Open(path)) restored.RestoreState(c);
        Assert.Equal(trainer.Update, restored.Update);
        Assert.Equal(trainer.GlobalStep, restored.GlobalStep);
        var a = trainer.StateTensors();
        var b = restored.StateTensors();
        Assert.Equal(a.Select(t => t.Spec.Name), b.Select(t => t.Spec.Name));
        for (int i = 0; i < a.Count; i++) Assert.True(a[i].Data.AsSpan().SequenceEqual(b[i].Data), a[i].Spec.Name);

        // And both continue identically for one more update from the same environment state.
        var la = new List<UpdateLog>();
        var lb = new List<UpdateLog>();
        trainer.Train(8 * 100 * 3, la.Add);
        restored.Train(8 * 100 * 3, lb.Add);
        Assert.Equal(la.Single().ValueLoss, lb.Single().ValueLoss);
    }

    [Fact]
    public void PolicyCheckpoint_SoupOfTwoPolicies_LoadsAsAPolicyWithAveragedWeights()
    {
        using var p1 = new GaussianPolicy(2, 1);
        using var p2 = new GaussianPolicy(2, 1);
        var norm = new RunningMeanStd(2);
        string a = _dir.File("a.safetensors"), b = _dir.File("b.safetensors"), soup = _dir.File("soup.safetensors");
        PolicyCheckpoint.Save(a, p1, norm, new PolicyInfo("point-mass", 2, 1, 64, Closeness, 100, 1, null));
        PolicyCheckpoint.Save(b, p2, norm, new PolicyInfo("point-mass", 2, 1, 64, Closeness with { Name = "other" }, 100, 2, null));
        RewardedSoups.Soup.StreamingMerge.Merge(new RewardedSoups.Soup.SoupRequest([a, b], [0.25, 0.75], soup));
        (GaussianPolicy merged, _, PolicyInfo info) = PolicyCheckpoint.Load(soup, "point-mass");
        using (merged)
        {
            Assert.Null(info.Reward); // the inputs' rewards differ: a soup has none of its own
            using var scope = NewDisposeScope();
            Tensor expected = 0.25f * p1.state_dict()["actor_mean.0.weight"] + 0.75f * p2.state_dict()["actor_mean.0.weight"];
            Assert.True(allclose(merged.state_dict()["actor_mean.0.weight"], expected, atol: 1e-6));
        }
        var e = Assert.Throws<SoupInputException>(() => PolicyCheckpoint.Load(soup, "cheetah"));
        Assert.Contains("a policy for task 'point-mass', not 'cheetah'", e.Message);
    }

    [Fact]
    public void PolicyCheckpoint_WrongShape_NamesTensorAndFile()
    {
        using var p = new GaussianPolicy(3, 1);
        string path = _dir.File("p.safetensors");
        PolicyCheckpoint.Save(path, p, new RunningMeanStd(3), new PolicyInfo("t", 3, 1, 64, null, 0, 0, null));
        using var other = new GaussianPolicy(2, 1);
        using Checkpoint c = Checkpoint.Open(path);
        var e = Assert.Throws<SoupInputException>(() => ModuleTensors.Import(other, c));
        Assert.Contains("tensor 'critic.0.weight' has shape [64, 3] but the policy needs [64, 2]", e.Message);
    }
}
