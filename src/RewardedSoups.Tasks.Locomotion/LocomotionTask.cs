namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// One locomotion task: a MuJoCo model whose root joint's first coordinates are the torso's x (and y,
/// in 3-D) position, and the rules that turn its state into observations, reward terms and episode
/// ends. <see cref="BuiltInLocomotion"/> lists the built-in ones.
/// </summary>
public sealed record LocomotionTask
{
    /// <summary>Task name, recorded in checkpoints (e.g. <c>cheetah</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The MJCF file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Physics timesteps per environment step; dt = FrameSkip × timestep.</summary>
    public required int FrameSkip { get; init; }

    /// <summary>Leading qpos entries left out of the observation: 1 (x) for planar robots, 2 (x, y) in 3-D, so a policy cannot tell where it is.</summary>
    public required int HiddenPositions { get; init; }

    /// <summary>Index in qpos of the torso's height (the root's z).</summary>
    public required int HeightIndex { get; init; }

    /// <summary>
    /// Reset noise scale s: qpos = qpos0 + U(−s, s), qvel = 0 + s·N(0, 1), per coordinate. The
    /// built-in tasks take the scales of the Gym versions of these robots (cheetah 0.1, hopper 0.005,
    /// humanoid 0.01): the hopper's ±0.2 rad pitch limit leaves no room for 0.1.
    /// </summary>
    public required double ResetNoise { get; init; }

    /// <summary>Healthy while the torso height stays within [MinHeight, MaxHeight].</summary>
    public double MinHeight { get; init; } = double.NegativeInfinity;

    /// <inheritdoc cref="MinHeight"/>
    public double MaxHeight { get; init; } = double.PositiveInfinity;

    /// <summary>Index in qpos of the torso's pitch angle, checked against <see cref="MaxPitch"/>; −1 for none.</summary>
    public int PitchIndex { get; init; } = -1;

    /// <summary>Healthy while |pitch| ≤ MaxPitch (radians).</summary>
    public double MaxPitch { get; init; } = double.PositiveInfinity;

    /// <summary>Healthy while every qpos entry after the height and every qvel entry has magnitude ≤ this.</summary>
    public double MaxStateMagnitude { get; init; } = double.PositiveInfinity;

    /// <summary>Steps after which an episode is truncated.</summary>
    public int MaxEpisodeSteps { get; init; } = 1000;

    /// <summary>Whether leaving the healthy set ends the episode (terminated); false for a robot that cannot fall, like the cheetah.</summary>
    public bool TerminatesWhenUnhealthy =>
        double.IsFinite(MinHeight) || double.IsFinite(MaxHeight) || PitchIndex >= 0 || double.IsFinite(MaxStateMagnitude);
}
