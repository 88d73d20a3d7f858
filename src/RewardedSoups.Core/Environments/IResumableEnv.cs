namespace RewardedSoups.Environments;

/// <summary>
/// Everything an environment's next step depends on, as flat arrays whose layout the environment owns:
/// what a training checkpoint stores so that a training killed at any update and resumed takes exactly
/// the steps an uninterrupted one would (same simulator states, episode counters and noise streams).
/// </summary>
/// <param name="Reals">Real-valued state (simulator positions, velocities, solver warm starts, clocks).</param>
/// <param name="Integers">Integer state (random-stream states, episode step counters, event counts).</param>
public sealed record EnvState(double[] Reals, long[] Integers);

/// <summary>A vectorised environment whose whole state can be captured and restored bit for bit.</summary>
public interface IResumableEnv : IVectorEnv
{
    /// <summary>The current state of every instance.</summary>
    EnvState CaptureState();

    /// <summary>
    /// Puts every instance back into a captured state; <see cref="IVectorEnv.Observations"/> are then those
    /// of the captured moment. A state of another shape (another task or instance count) is refused with an
    /// <see cref="ArgumentException"/> naming the array and its expected length.
    /// </summary>
    void RestoreState(EnvState state);
}
