using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// The built-in locomotion tasks and the rewards of the rewarded-soups locomotion study
/// (Ramé et al. 2023, §3.4): <c>risky</c> = forward_velocity and
/// <c>cautious</c> = forward_velocity − 1·control_cost.
/// </summary>
public static class BuiltInLocomotion
{
    /// <summary>Where the Debian package libmujoco-samples installs DeepMind's humanoid.</summary>
    public const string HumanoidModelPath = "/usr/share/mujoco/model/humanoid/humanoid.xml";

    /// <summary>Names accepted by <see cref="Get"/> and <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cheetah", "hopper", "humanoid"];

    /// <summary>Names accepted by <see cref="Reward"/>.</summary>
    public static IReadOnlyList<string> RewardNames { get; } = ["risky", "cautious"];

    /// <summary>The task called <paramref name="name"/>; an unknown name is a <see cref="SoupInputException"/> listing the valid ones.</summary>
    public static LocomotionTask Get(string name) => name switch
    {
        // Planar runner: never unhealthy; 5 × 0.01 s per step.
        "cheetah" => new LocomotionTask
        {
            Name = "cheetah",
            ModelPath = BundledModel("cheetah.xml"),
            FrameSkip = 5,
            HiddenPositions = 1,
            HeightIndex = 1,
            ResetNoise = 0.1,
        },
        // Planar hopper: falls when the torso drops below 0.7 m, pitches beyond 0.2 rad, or the state
        // runs away (|·| > 100, as in Gym); 4 × 0.002 s per step.
        "hopper" => new LocomotionTask
        {
            Name = "hopper",
            ModelPath = BundledModel("hopper.xml"),
            FrameSkip = 4,
            HiddenPositions = 1,
            HeightIndex = 1,
            ResetNoise = 0.005,
            MinHeight = 0.7,
            PitchIndex = 2,
            MaxPitch = 0.2,
            MaxStateMagnitude = 100,
        },
        // 3-D humanoid (free root joint: qpos = [x, y, z, quaternion, 21 hinges]); falls when the torso
        // leaves [1, 2] m; 5 × 0.005 s per step.
        "humanoid" => new LocomotionTask
        {
            Name = "humanoid",
            ModelPath = HumanoidModelPath,
            FrameSkip = 5,
            HiddenPositions = 2,
            HeightIndex = 2,
            ResetNoise = 0.01,
            MinHeight = 1.0,
            MaxHeight = 2.0,
        },
        _ => throw new SoupInputException($"unknown locomotion task '{name}'; valid tasks: {string.Join(", ", Names)}"),
    };

    /// <summary><paramref name="numEnvs"/> instances of the task called <paramref name="task"/>, reset with seed 0.</summary>
    public static LocomotionEnv Create(string task, int numEnvs)
    {
        LocomotionTask definition = Get(task);
        if (definition.ModelPath == HumanoidModelPath && !File.Exists(HumanoidModelPath))
            throw new FileNotFoundException($"humanoid model not found at {HumanoidModelPath}: install the Debian package libmujoco-samples", HumanoidModelPath);
        return new LocomotionEnv(definition, numEnvs);
    }

    /// <summary>The reward called <paramref name="name"/> (<c>risky</c> or <c>cautious</c>); an unknown name lists the valid ones.</summary>
    public static RewardFunction Reward(string name) => name switch
    {
        "risky" => new RewardFunction("risky", new Dictionary<string, double> { ["forward_velocity"] = 1 }),
        "cautious" => new RewardFunction("cautious", new Dictionary<string, double> { ["forward_velocity"] = 1, ["control_cost"] = -1 }),
        _ => throw new SoupInputException($"unknown locomotion reward '{name}'; valid rewards: {string.Join(", ", RewardNames)}"),
    };

    private static string BundledModel(string file) => Path.Combine(AppContext.BaseDirectory, "Models", file);
}
