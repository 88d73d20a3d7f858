using System.Globalization;
using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Environments;

namespace RewardedSoups.Learning;

/// <summary>What a policy checkpoint says about itself, stored in its safetensors metadata.</summary>
/// <param name="Task">Environment name (e.g. <c>cheetah</c>).</param>
/// <param name="Reward">The reward it was trained on (null for a soup, whose inputs differ).</param>
/// <param name="Steps">Environment steps of training behind it, its parents' included.</param>
/// <param name="Seed">Training seed.</param>
/// <param name="Parent">Path of the checkpoint it was fine-tuned from, if any.</param>
public sealed record PolicyInfo(string Task, int ObservationSize, int ActionSize, int Hidden, RewardFunction? Reward, long Steps, int Seed, string? Parent);

/// <summary>
/// A policy as one safetensors file: the actor-critic's weights under their PyTorch names, the
/// observation normaliser (<c>obs_norm.mean</c>, <c>obs_norm.var</c>, <c>obs_norm.count</c>, F64), and
/// metadata. Task, sizes and architecture are metadata every expert of one experiment shares, so
/// `soup merge` keeps them and a soup of policies loads as a policy.
/// </summary>
public static class PolicyCheckpoint
{
    public const string Kind = "policy";

    public static List<(TensorSpec Spec, byte[] Data)> Tensors(GaussianPolicy policy, RunningMeanStd obsNorm)
    {
        var tensors = ModuleTensors.Export(policy);
        tensors.Add((new TensorSpec("obs_norm.mean", DType.F64, [obsNorm.Size]), ModuleTensors.Bytes(obsNorm.Mean)));
        tensors.Add((new TensorSpec("obs_norm.var", DType.F64, [obsNorm.Size]), ModuleTensors.Bytes(obsNorm.Var)));
        tensors.Add((new TensorSpec("obs_norm.count", DType.F64, []), BitConverter.GetBytes(obsNorm.Count)));
        return tensors;
    }

    public static Dictionary<string, string> Metadata(PolicyInfo info)
    {
        var m = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["rs.kind"] = Kind,
            ["rs.task"] = info.Task,
            ["rs.observation_size"] = info.ObservationSize.ToString(CultureInfo.InvariantCulture),
            ["rs.action_size"] = info.ActionSize.ToString(CultureInfo.InvariantCulture),
            ["rs.hidden"] = info.Hidden.ToString(CultureInfo.InvariantCulture),
            ["rs.steps"] = info.Steps.ToString(CultureInfo.InvariantCulture),
            ["rs.seed"] = info.Seed.ToString(CultureInfo.InvariantCulture),
        };
        if (info.Reward is not null)
        {
            m["rs.reward_name"] = info.Reward.Name;
            m["rs.reward"] = JsonSerializer.Serialize(info.Reward.Weights);
        }
        if (info.Parent is not null) m["rs.parent"] = info.Parent;
        return m;
    }

    public static void Save(string path, GaussianPolicy policy, RunningMeanStd obsNorm, PolicyInfo info) =>
        TrainedCheckpoint.Write(path, Tensors(policy, obsNorm), Metadata(info));

    /// <summary>Loads a policy (or a soup of policies); <paramref name="task"/>, when given, must match.</summary>
    public static (GaussianPolicy Policy, RunningMeanStd ObsNorm, PolicyInfo Info) Load(string path, string? task = null)
    {
        using Checkpoint checkpoint = Checkpoint.Open(path);
        PolicyInfo info = ReadInfo(checkpoint);
        if (task is not null && info.Task != task)
            throw new SoupInputException($"{path}: a policy for task '{info.Task}', not '{task}'");
        var policy = TorchRandom.Shared(() => new GaussianPolicy(info.ObservationSize, info.ActionSize, info.Hidden));
        ModuleTensors.Import(policy, checkpoint);
        var norm = new RunningMeanStd(info.ObservationSize);
        ReadNorm(checkpoint, norm);
        return (policy, norm, info);
    }

    public static PolicyInfo ReadInfo(Checkpoint checkpoint)
    {
        IReadOnlyDictionary<string, string> m = checkpoint.Metadata;
        string Get(string key) => m.TryGetValue(key, out string? v) ? v
            : throw new SoupInputException($"{checkpoint.Path}: metadata '{key}' missing; not a RewardedSoups policy checkpoint");
        int Int(string key) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new SoupInputException($"{checkpoint.Path}: metadata '{key}' = '{Get(key)}' is not a positive integer");
        RewardFunction? reward = null;
        if (m.TryGetValue("rs.reward", out string? json) && m.TryGetValue("rs.reward_name", out string? name))
            reward = new RewardFunction(name, JsonSerializer.Deserialize<Dictionary<string, double>>(json)!);
        long steps = long.TryParse(m.GetValueOrDefault("rs.steps"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) ? s : 0;
        int seed = int.TryParse(m.GetValueOrDefault("rs.seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int sd) ? sd : 0;
        return new PolicyInfo(Get("rs.task"), Int("rs.observation_size"), Int("rs.action_size"), Int("rs.hidden"), reward, steps, seed, m.GetValueOrDefault("rs.parent"));
    }

    public static void ReadNorm(Checkpoint checkpoint, RunningMeanStd norm)
    {
        double[] Read(string name, long length)
        {
            if (!checkpoint.TryGet(name, out CheckpointTensor t))
                throw new SoupInputException($"{checkpoint.Path}: no tensor '{name}' (the observation normaliser)");
            if (t.Info.ElementCount != length)
                throw new SoupInputException($"{checkpoint.Path}: tensor '{name}' has {t.Info.ElementCount} values, expected {length}");
            return ModuleTensors.ReadDoubles(t);
        }
        Read("obs_norm.mean", norm.Size).CopyTo(norm.Mean, 0);
        Read("obs_norm.var", norm.Size).CopyTo(norm.Var, 0);
        norm.Count = Read("obs_norm.count", 1)[0];
    }
}
