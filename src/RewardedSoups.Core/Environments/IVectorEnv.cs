namespace RewardedSoups.Environments;

/// <summary>
/// A vectorised environment: <see cref="NumEnvs"/> independent instances stepped by one call, with
/// float32 observations and actions laid out row by row (<c>[envs, size]</c>). Instead of one scalar
/// reward it reports a vector of named reward terms per step; a <see cref="RewardFunction"/> weighs
/// them into the reward an agent trains on, so experts can differ in their reward alone.
/// Instances whose episode ends are reset automatically within <see cref="Step"/>.
/// </summary>
public interface IVectorEnv : IDisposable
{
    /// <summary>The task's name (e.g. <c>cheetah</c>), recorded in checkpoints.</summary>
    string Name { get; }

    int NumEnvs { get; }

    int ObservationSize { get; }

    int ActionSize { get; }

    /// <summary>Names of the reward terms, in the order <see cref="Step"/> writes them.</summary>
    IReadOnlyList<string> RewardTerms { get; }

    /// <summary>Steps after which an episode is truncated.</summary>
    int MaxEpisodeSteps { get; }

    /// <summary>Resets every instance. Instance <c>i</c> draws its noise from a stream determined by (<paramref name="seed"/>, i), so a seed fixes everything.</summary>
    void Reset(int seed);

    /// <summary>Current observations <c>[NumEnvs, ObservationSize]</c>: after an auto-reset, the new episode's first.</summary>
    ReadOnlySpan<float> Observations { get; }

    /// <summary>
    /// Applies <paramref name="actions"/> <c>[NumEnvs, ActionSize]</c> (each in [-1, 1]; clipped,
    /// NaN treated as an invalid simulation) and advances every instance by one step.
    /// Writes <paramref name="rewardTerms"/> <c>[NumEnvs, RewardTerms.Count]</c>, and per instance
    /// whether its episode ended: <paramref name="terminated"/> (a terminal state, e.g. the robot fell:
    /// no bootstrap) or <paramref name="truncated"/> (time limit or an invalid simulation: bootstrap
    /// from <see cref="FinalObservations"/>).
    /// </summary>
    void Step(ReadOnlySpan<float> actions, Span<float> rewardTerms, Span<bool> terminated, Span<bool> truncated);

    /// <summary>Observations <c>[NumEnvs, ObservationSize]</c> before the auto-reset, valid for the rows that ended in the last step.</summary>
    ReadOnlySpan<float> FinalObservations { get; }

    /// <summary>Episodes cut short because the simulation became invalid (NaN action, diverged state); counted, never a crash.</summary>
    long InvalidEpisodes { get; }
}
