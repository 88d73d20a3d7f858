using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Text.Json.Serialization;
using RewardedSoups.Environments;
using RewardedSoups.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>
/// Settings of continuous-action PPO, and the <c>ppo</c> section of a locomotion experiment: each key is
/// the snake_case of its property (<c>envs</c>, <c>rollout_steps</c>, <c>lr</c>, …), spelt the same in the
/// configuration, the resolved configuration, errors and <c>soup train</c>'s options. Defaults follow
/// CleanRL's <c>ppo_continuous_action.py</c> except where said: CleanRL steps 1 env × 2048 steps with 32
/// minibatches of 64; on a CPU through TorchSharp each gradient step carries a fixed overhead of native calls
/// that tiny minibatches cannot amortise, so we gather 16 envs × 256 steps and use 4 minibatches of 1024
/// (docs/ppo.md has the measurements).
/// </summary>
public sealed record PpoSettings : ISettingsSection
{
    /// <summary>Most environments stepped together (each holds a simulation; the built-in configurations use 4 to 16).</summary>
    public const int MaxEnvs = 1024;

    /// <summary>Most steps per environment per rollout.</summary>
    public const int MaxSteps = 65_536;

    /// <summary>Most samples per rollout, envs × steps: 64 times the default 4,096.</summary>
    public const int MaxBatchSize = 1 << 18;

    /// <summary>Most hidden units per layer.</summary>
    public const int MaxHidden = 4096;

    /// <summary>Environments stepped together (CleanRL's <c>num_envs</c>).</summary>
    [Range(1, MaxEnvs)]
    public int Envs { get; init; } = 16;

    /// <summary>Steps per environment per rollout (CleanRL's <c>num_steps</c>).</summary>
    [Range(1, MaxSteps)]
    public int RolloutSteps { get; init; } = 256;

    /// <summary>Adam learning rate, annealed linearly to 0 when <see cref="AnnealLr"/> (CleanRL's <c>learning_rate</c>).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public double Lr { get; init; } = 3e-4;

    /// <summary>Anneal the learning rate linearly to 0 over the training.</summary>
    public bool AnnealLr { get; init; } = true;

    /// <summary>Discount γ.</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public float Gamma { get; init; } = 0.99f;

    /// <summary>GAE λ.</summary>
    [Range(0.0, 1.0)]
    public float GaeLambda { get; init; } = 0.95f;

    /// <summary>Minibatches per epoch; must divide envs × rollout_steps (CleanRL: 32 of 64 samples; here 4 of 1024, see above).</summary>
    [Range(1, MaxBatchSize)]
    public int Minibatches { get; init; } = 4;

    /// <summary>Epochs over each rollout (CleanRL's <c>update_epochs</c>).</summary>
    [Range(1, 1000)]
    public int Epochs { get; init; } = 10;

    /// <summary>Normalise advantages per minibatch.</summary>
    public bool NormAdv { get; init; } = true;

    /// <summary>Clipping ε of the policy ratio (and of the value change when <see cref="ClipVloss"/>).</summary>
    [Range(0.0, 1.0, MinimumIsExclusive = true)]
    public float ClipCoef { get; init; } = 0.2f;

    /// <summary>Clip the value loss as the policy's (CleanRL's <c>clip_vloss</c>).</summary>
    public bool ClipVloss { get; init; } = true;

    /// <summary>Entropy bonus coefficient.</summary>
    [Range(0.0, 1.0)]
    public float EntCoef { get; init; } = 0f;

    /// <summary>Value loss coefficient.</summary>
    [Range(0.0, 1000.0)]
    public float VfCoef { get; init; } = 0.5f;

    /// <summary>Global gradient-norm clip.</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)]
    public float MaxGradNorm { get; init; } = 0.5f;

    /// <summary>Stop an update's epochs early when the approximate KL exceeds this (absent: never).</summary>
    [Range(0.0, 1e6, MinimumIsExclusive = true)]
    public float? TargetKl { get; init; }

    /// <summary>Hidden units per layer of the actor and the critic.</summary>
    [Range(1, MaxHidden)]
    public int Hidden { get; init; } = 64;

    /// <summary>Scale rewards by the running std of the discounted return (gym's NormalizeReward), clip ±10.</summary>
    public bool NormalizeReward { get; init; } = true;

    [JsonIgnore]
    public int BatchSize => Envs * RolloutSteps;

    [JsonIgnore]
    public int MinibatchSize => BatchSize / Minibatches;

    /// <summary>envs × rollout_steps within <see cref="MaxBatchSize"/>; minibatches divide it.</summary>
    public void Check(SettingsCheck check)
    {
        if ((long)Envs * RolloutSteps > MaxBatchSize)
            throw check.Fail("rollout_steps", $"{check.Key("envs")} × {check.Key("rollout_steps")} is {(long)Envs * RolloutSteps} samples per rollout; at most {MaxBatchSize}");
        if (BatchSize % Minibatches != 0)
            throw check.Fail("minibatches", $"{Minibatches} does not divide the rollout of {check.Key("envs")} × {check.Key("rollout_steps")} = {BatchSize} samples");
    }

    /// <summary>Checks settings built in code (not read from a configuration): one line naming the first key at fault.</summary>
    public void Validate() => SettingsSection.Validate(this, "ppo");
}

/// <summary>One line of the training log, written after each update.</summary>
public sealed record UpdateLog(
    int Update, long GlobalStep, double EpisodicReturn, int Episodes, double[] TermMeans, double PolicyLoss, double ValueLoss,
    double Entropy, double ApproxKl, double ClipFraction, double ExplainedVariance, double LearningRate, double StepsPerSecond, long InvalidEpisodes,
    double RolloutSeconds, double OptimiseSeconds);

/// <summary>
/// Continuous-action PPO (Schulman et al. 2017) with the implementation details of CleanRL's
/// <c>ppo_continuous_action.py</c> ("The 37 implementation details of PPO", Huang et al. 2022):
/// orthogonal init, tanh MLPs, state-independent log-std, GAE, clipped policy and value losses,
/// entropy bonus, global gradient clipping, learning-rate annealing, per-minibatch advantage
/// normalisation, observation normalisation, reward scaling. One deliberate deviation: a
/// time-limit truncation bootstraps from V(final observation) instead of treating it as terminal.
/// The trainer owns the policy, the normaliser and the optimiser, so it can save and resume.
/// </summary>
public sealed class PpoTrainer : IDisposable
{
    private readonly IVectorEnv _env;
    private readonly float[] _rewardWeights;
    private readonly TorchSharp.Modules.Adam _optimizer;
    private readonly Generator _generator;
    private readonly RunningMeanStd _returnNorm = new(1);
    private readonly double[] _discountedReturn;
    private readonly double[] _episodeReturn;      // [envs] return of each instance's current episode so far
    private bool _environmentsRestored;             // RestoreState put the environments back where the checkpoint left them

    public PpoTrainer(IVectorEnv env, RewardFunction reward, PpoSettings settings, int seed, GaussianPolicy policy, RunningMeanStd obsNorm)
    {
        settings.Validate();
        if (env.NumEnvs != settings.Envs)
            throw new ArgumentException($"environment has {env.NumEnvs} instances, settings ask for {settings.Envs}", nameof(env));
        if (policy.ObservationSize != env.ObservationSize || policy.ActionSize != env.ActionSize)
            throw new SoupInputException($"policy sizes (obs {policy.ObservationSize}, act {policy.ActionSize}) do not fit task '{env.Name}' (obs {env.ObservationSize}, act {env.ActionSize})");
        _env = env;
        Reward = reward;
        _rewardWeights = reward.Resolve(env.RewardTerms);
        Settings = settings;
        Seed = seed;
        Policy = policy;
        ObsNorm = obsNorm;
        _optimizer = KeptAliveAdam.Adam(policy.parameters(), lr: settings.Lr, eps: 1e-5);
        _generator = new Generator(unchecked((ulong)seed));
        _discountedReturn = new double[settings.Envs];
        _episodeReturn = new double[settings.Envs];
    }

    public GaussianPolicy Policy { get; }

    public RunningMeanStd ObsNorm { get; }

    public RewardFunction Reward { get; }

    public PpoSettings Settings { get; }

    public int Seed { get; }

    /// <summary>Environment steps taken so far (all envs).</summary>
    public long GlobalStep { get; private set; }

    /// <summary>Updates completed so far.</summary>
    public int Update { get; private set; }

    /// <summary>
    /// Trains until <paramref name="totalSteps"/> environment steps (rounded up to whole rollouts),
    /// calling <paramref name="onUpdate"/> after each update (log, checkpoint). Resumes from
    /// <see cref="Update"/> when state was restored: with an <see cref="IResumableEnv"/> the episodes go on
    /// exactly where they were, so a resumed training takes the steps an uninterrupted one would; other
    /// environments start fresh episodes.
    /// </summary>
    public void Train(long totalSteps, Action<UpdateLog> onUpdate, CancellationToken cancel = default)
    {
        PpoSettings s = Settings;
        int numUpdates = (int)((totalSteps + s.BatchSize - 1) / s.BatchSize);
        int envs = s.Envs, obsSize = _env.ObservationSize, actSize = _env.ActionSize, terms = _env.RewardTerms.Count;
        int batch = s.BatchSize;

        // Rollout storage, [steps, envs, …] flattened; plain arrays, refilled every update.
        var obsBuf = new float[batch * obsSize];       // [steps, envs, obs] (normalised, as the policy saw them)
        var actBuf = new float[batch * actSize];       // [steps, envs, act]
        var logpBuf = new float[batch];                // [steps, envs]
        var valBuf = new float[batch];                 // [steps, envs]
        var rewBuf = new float[batch];                 // [steps, envs] (scaled, with truncation bootstraps)
        var endBuf = new bool[batch];                  // [steps, envs]
        var advantages = new float[batch];
        var returns = new float[batch];
        var nextObs = new float[envs * obsSize];       // [envs, obs] normalised
        var actions = new float[envs * actSize];       // [envs, act]
        var termBuf = new float[envs * terms];         // [envs, terms]
        var terminated = new bool[envs];
        var truncated = new bool[envs];
        var finalNorm = new float[envs * obsSize];
        var lastValues = new float[envs];
        var termSums = new double[terms];

        if (!_environmentsRestored)
        {
            _env.Reset(unchecked(Seed * 7919 + Update));
            ObsNorm.Update(_env.Observations, envs);
        }
        ObsNorm.Normalize(_env.Observations, nextObs);

        for (; Update < numUpdates;)
        {
            cancel.ThrowIfCancellationRequested();
            using ScalarGuard.Span guard = ScalarGuard.Enter();   // the whole update, its log and checkpoint (small)
            var clock = Stopwatch.StartNew();
            double lr = s.AnnealLr ? s.Lr * (1.0 - (double)Update / numUpdates) : s.Lr;
            foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;

            double returnSum = 0;
            int episodes = 0;
            Array.Clear(termSums);
            long invalidBefore = _env.InvalidEpisodes;
            for (int t = 0; t < s.RolloutSteps; t++)
            {
                using var step = NewDisposeScope();
                nextObs.CopyTo(obsBuf, t * envs * obsSize);
                Tensor obsT = tensor(nextObs, [envs, obsSize]);
                (Tensor a, Tensor logp, Tensor v) = Policy.Sample(obsT, _generator);
                a.data<float>().CopyTo(actions);
                logp.data<float>().CopyTo(logpBuf.AsSpan(t * envs, envs));
                v.data<float>().CopyTo(valBuf.AsSpan(t * envs, envs));
                actions.CopyTo(actBuf, t * envs * actSize);

                _env.Step(actions, termBuf, terminated, truncated);
                GlobalStep += envs;

                bool anyTruncated = false;
                for (int e = 0; e < envs; e++)
                {
                    float r = 0;
                    for (int k = 0; k < terms; k++)
                    {
                        r += _rewardWeights[k] * termBuf[e * terms + k];
                        termSums[k] += termBuf[e * terms + k];
                    }
                    _episodeReturn[e] += r;
                    int i = t * envs + e;
                    rewBuf[i] = s.NormalizeReward ? ScaleReward(e, r) : r;
                    endBuf[i] = terminated[e] || truncated[e];
                    anyTruncated |= truncated[e];
                    if (endBuf[i])
                    {
                        returnSum += _episodeReturn[e];
                        episodes++;
                        _episodeReturn[e] = 0;
                        _discountedReturn[e] = 0;
                    }
                }
                if (anyTruncated)
                {
                    // Time limits are not terminal states: bootstrap from V(final observation).
                    ObsNorm.Normalize(_env.FinalObservations, finalNorm);
                    using var noGrad = no_grad();
                    float[] vFinal = Policy.Value(tensor(finalNorm, [envs, obsSize])).data<float>().ToArray();
                    for (int e = 0; e < envs; e++)
                        if (truncated[e]) rewBuf[t * envs + e] += s.Gamma * vFinal[e];
                }
                ObsNorm.Update(_env.Observations, envs);
                ObsNorm.Normalize(_env.Observations, nextObs);
            }
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            {
                Policy.Value(tensor(nextObs, [envs, obsSize])).data<float>().CopyTo(lastValues);
            }
            Gae.Compute(rewBuf, valBuf, endBuf, lastValues, s.RolloutSteps, envs, s.Gamma, s.GaeLambda, advantages, returns);
            double rolloutSeconds = clock.Elapsed.TotalSeconds;

            (double pgLoss, double vLoss, double entropy, double approxKl, double clipFrac) = Optimise(obsBuf, actBuf, logpBuf, valBuf, advantages, returns, obsSize, actSize);
            Update++;
            double sps = batch / clock.Elapsed.TotalSeconds;
            onUpdate(new UpdateLog(
                Update, GlobalStep, episodes > 0 ? returnSum / episodes : double.NaN, episodes,
                termSums.Select(x => x / batch).ToArray(), pgLoss, vLoss, entropy, approxKl, clipFrac,
                ExplainedVariance(valBuf, returns), lr, sps, _env.InvalidEpisodes - invalidBefore,
                rolloutSeconds, clock.Elapsed.TotalSeconds - rolloutSeconds));
        }
    }

    /// <summary>gym's NormalizeReward: divide by the running std of the discounted return, then clip.</summary>
    private float ScaleReward(int env, float reward)
    {
        _discountedReturn[env] = _discountedReturn[env] * Settings.Gamma + reward;
        _returnNorm.Update([(float)_discountedReturn[env]], 1);
        return Math.Clamp((float)(reward / Math.Sqrt(_returnNorm.Var[0] + RunningMeanStd.Epsilon)), -10f, 10f);
    }

    private (double, double, double, double, double) Optimise(float[] obsBuf, float[] actBuf, float[] logpBuf, float[] valBuf, float[] advantages, float[] returns, int obsSize, int actSize)
    {
        PpoSettings s = Settings;
        int batch = s.BatchSize, mb = s.MinibatchSize;
        using var outer = NewDisposeScope();
        Tensor bObs = tensor(obsBuf, [batch, obsSize]);
        Tensor bAct = tensor(actBuf, [batch, actSize]);
        Tensor bLogp = tensor(logpBuf, [batch]);
        Tensor bVal = tensor(valBuf, [batch]);
        Tensor bAdv = tensor(advantages, [batch]);
        Tensor bRet = tensor(returns, [batch]);
        double pg = 0, vl = 0, ent = 0, kl = 0, clip = 0;
        int count = 0;
        // Scalars held for the whole update (TorchSharp does not keep a temporary one alive: KeptAliveAdam).
        using Scalar clipCoef = s.ClipCoef.ToScalar(), minusClipCoef = (-s.ClipCoef).ToScalar(), ratioLow = (1 - s.ClipCoef).ToScalar(), ratioHigh = (1 + s.ClipCoef).ToScalar(), half = 0.5.ToScalar();
        for (int epoch = 0; epoch < s.Epochs; epoch++)
        {
            Tensor order = randperm(batch, generator: _generator);
            double epochKl = 0;
            for (int start = 0; start < batch; start += mb)
            {
                using var step = NewDisposeScope();
                Tensor idx = order.narrow(0, start, mb);
                Tensor obs = bObs.index_select(0, idx), act = bAct.index_select(0, idx);
                (Tensor newLogp, Tensor entropy, Tensor newValue) = Policy.Evaluate(obs, act);
                Tensor logRatio = newLogp - bLogp.index_select(0, idx);
                Tensor ratio = logRatio.exp();
                using (no_grad())
                {
                    // The unbiased KL estimator of http://joschu.net/blog/kl-approx.html.
                    epochKl = ((ratio - 1) - logRatio).mean().item<float>();
                    kl += epochKl;
                    clip += ((ratio - 1.0).abs() > clipCoef).to(float32).mean().item<float>();
                }
                Tensor adv = bAdv.index_select(0, idx);
                if (s.NormAdv) adv = (adv - adv.mean()) / (adv.std() + 1e-8);
                Tensor pgLoss = max(-adv * ratio, -adv * ratio.clamp(ratioLow, ratioHigh)).mean();
                Tensor ret = bRet.index_select(0, idx);
                Tensor vLoss;
                if (s.ClipVloss)
                {
                    Tensor oldV = bVal.index_select(0, idx);
                    Tensor clipped = oldV + (newValue - oldV).clamp(minusClipCoef, clipCoef);
                    vLoss = half * max((newValue - ret).square(), (clipped - ret).square()).mean();
                }
                else
                {
                    vLoss = half * (newValue - ret).square().mean();
                }
                Tensor entropyMean = entropy.mean();
                Tensor loss = pgLoss - s.EntCoef * entropyMean + s.VfCoef * vLoss;
                int e = epoch, m = start / mb;
                OptimiserStep.Apply(_optimizer, loss, Policy.parameters(), s.MaxGradNorm, () => $"PPO update {Update + 1}, epoch {e + 1}, minibatch {m + 1}");
                pg += pgLoss.item<float>();
                vl += vLoss.item<float>();
                ent += entropyMean.item<float>();
                count++;
            }
            if (s.TargetKl is float target && epochKl > target) break;
        }
        return (pg / count, vl / count, ent / count, kl / count, clip / count);
    }

    private static double ExplainedVariance(float[] values, float[] returns)
    {
        double mean = returns.Average(r => (double)r);
        double varY = returns.Sum(r => (r - mean) * (r - mean)) / returns.Length;
        double meanD = 0;
        for (int i = 0; i < values.Length; i++) meanD += returns[i] - values[i];
        meanD /= values.Length;
        double varD = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double d = returns[i] - values[i] - meanD;
            varD += d * d;
        }
        varD /= values.Length;
        return varY == 0 ? double.NaN : 1 - varD / varY;
    }

    /// <summary>
    /// Everything needed to resume, as checkpoint tensors: the policy and observation normaliser
    /// (as in a policy checkpoint), Adam's moments and step per parameter (<c>optim.NAME.exp_avg</c>,
    /// <c>optim.NAME.exp_avg_sq</c>, <c>optim.NAME.step</c>), the reward scaler
    /// (<c>reward_norm.*</c>), the random generator's state (<c>rng.state</c>), each instance's episode return
    /// so far (<c>trainer.episode_returns</c>) and, for an <see cref="IResumableEnv"/>, the environments'
    /// state (<c>env.reals</c>, <c>env.integers</c>).
    /// </summary>
    public List<(Checkpoints.TensorSpec Spec, byte[] Data)> StateTensors()
    {
        var tensors = PolicyCheckpoint.Tensors(Policy, ObsNorm);
        var names = Policy.named_parameters().Select(p => p.name).ToList();
        var states = _optimizer.state_dict().State;
        for (int i = 0; i < names.Count; i++)
        {
            var adam = (TorchSharp.Modules.Adam.State)states[i];
            tensors.Add(Export($"optim.{names[i]}.exp_avg", adam.exp_avg));
            tensors.Add(Export($"optim.{names[i]}.exp_avg_sq", adam.exp_avg_sq));
            tensors.Add((new Checkpoints.TensorSpec($"optim.{names[i]}.step", Checkpoints.DType.I64, []), BitConverter.GetBytes(adam.step)));
        }
        tensors.Add((new Checkpoints.TensorSpec("reward_norm.var", Checkpoints.DType.F64, [1]), ModuleTensors.Bytes(_returnNorm.Var)));
        tensors.Add((new Checkpoints.TensorSpec("reward_norm.mean", Checkpoints.DType.F64, [1]), ModuleTensors.Bytes(_returnNorm.Mean)));
        tensors.Add((new Checkpoints.TensorSpec("reward_norm.count", Checkpoints.DType.F64, []), BitConverter.GetBytes(_returnNorm.Count)));
        tensors.Add((new Checkpoints.TensorSpec("reward_norm.returns", Checkpoints.DType.F64, [_discountedReturn.Length]), ModuleTensors.Bytes(_discountedReturn)));
        using Tensor rng = _generator.get_state();
        tensors.Add((new Checkpoints.TensorSpec("rng.state", Checkpoints.DType.U8, rng.shape), rng.bytes.ToArray()));
        tensors.Add((new Checkpoints.TensorSpec("trainer.progress", Checkpoints.DType.I64, [2]), [.. BitConverter.GetBytes((long)Update), .. BitConverter.GetBytes(GlobalStep)]));
        tensors.Add((new Checkpoints.TensorSpec("trainer.episode_returns", Checkpoints.DType.F64, [_episodeReturn.Length]), ModuleTensors.Bytes(_episodeReturn)));
        if (_env is IResumableEnv resumable)
        {
            EnvState state = resumable.CaptureState();
            tensors.Add((new Checkpoints.TensorSpec("env.reals", Checkpoints.DType.F64, [state.Reals.Length]), ModuleTensors.Bytes(state.Reals)));
            tensors.Add((new Checkpoints.TensorSpec("env.integers", Checkpoints.DType.I64, [state.Integers.Length]), System.Runtime.InteropServices.MemoryMarshal.AsBytes(state.Integers.AsSpan()).ToArray()));
        }
        return tensors;
    }

    /// <summary>Restores what <see cref="StateTensors"/> saved; a missing or mis-shaped tensor is an error naming it.</summary>
    public void RestoreState(Checkpoints.Checkpoint checkpoint)
    {
        ModuleTensors.Import(Policy, checkpoint);
        PolicyCheckpoint.ReadNorm(checkpoint, ObsNorm);
        var names = Policy.named_parameters().Select(p => p.name).ToList();
        var states = _optimizer.state_dict().State;
        using var noGrad = no_grad();
        for (int i = 0; i < names.Count; i++)
        {
            var adam = (TorchSharp.Modules.Adam.State)states[i];
            adam.exp_avg.copy_(tensor(ModuleTensors.ReadFloats(Get(checkpoint, $"optim.{names[i]}.exp_avg")), adam.exp_avg.shape));
            adam.exp_avg_sq.copy_(tensor(ModuleTensors.ReadFloats(Get(checkpoint, $"optim.{names[i]}.exp_avg_sq")), adam.exp_avg_sq.shape));
            adam.step = BitConverter.ToInt64(Get(checkpoint, $"optim.{names[i]}.step").File.ReadAll(Get(checkpoint, $"optim.{names[i]}.step").Info));
        }
        _returnNorm.Var[0] = ModuleTensors.ReadDoubles(Get(checkpoint, "reward_norm.var"))[0];
        _returnNorm.Mean[0] = ModuleTensors.ReadDoubles(Get(checkpoint, "reward_norm.mean"))[0];
        _returnNorm.Count = ModuleTensors.ReadDoubles(Get(checkpoint, "reward_norm.count"))[0];
        double[] returns = ModuleTensors.ReadDoubles(Get(checkpoint, "reward_norm.returns"));
        if (returns.Length == _discountedReturn.Length) returns.CopyTo(_discountedReturn, 0);
        Checkpoints.CheckpointTensor rng = Get(checkpoint, "rng.state");
        byte[] state = rng.File.ReadAll(rng.Info);
        _generator.set_state(tensor(state, dtype: uint8));
        Checkpoints.CheckpointTensor progress = Get(checkpoint, "trainer.progress");
        byte[] p = progress.File.ReadAll(progress.Info);
        Update = (int)BitConverter.ToInt64(p, 0);
        GlobalStep = BitConverter.ToInt64(p, 8);
        double[] episodeReturns = ModuleTensors.ReadDoubles(Get(checkpoint, "trainer.episode_returns"));
        if (episodeReturns.Length != _episodeReturn.Length)
            throw new SoupInputException($"{checkpoint.Path}: tensor 'trainer.episode_returns' has {episodeReturns.Length} values for {_episodeReturn.Length} environments");
        episodeReturns.CopyTo(_episodeReturn, 0);
        if (_env is IResumableEnv resumable)
        {
            Checkpoints.CheckpointTensor integers = Get(checkpoint, "env.integers");
            var saved = new EnvState(ModuleTensors.ReadDoubles(Get(checkpoint, "env.reals")),
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(integers.File.ReadAll(integers.Info)).ToArray());
            try
            {
                resumable.RestoreState(saved);
            }
            catch (ArgumentException e)
            {
                throw new SoupInputException($"{checkpoint.Path}: {e.Message.Split(" (Parameter")[0]}");
            }
            _environmentsRestored = true;
        }
    }

    private static Checkpoints.CheckpointTensor Get(Checkpoints.Checkpoint checkpoint, string name) =>
        checkpoint.TryGet(name, out Checkpoints.CheckpointTensor t) ? t
            : throw new SoupInputException($"{checkpoint.Path}: no tensor '{name}'; not a training checkpoint of this trainer");

    private static (Checkpoints.TensorSpec, byte[]) Export(string name, Tensor t)
    {
        using Tensor cpu = t.detach().cpu().contiguous();
        return (new Checkpoints.TensorSpec(name, Checkpoints.DType.F32, cpu.shape), cpu.bytes.ToArray());
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _generator.Dispose();
    }
}
