namespace RewardedSoups.Environments;

/// <summary>
/// An environment whose instances can be drawn: the world positions of its bodies, for the app's
/// replay of an episode (a task's showcase). Locomotion implements it with MuJoCo's body positions.
/// </summary>
public interface IRecordableEnv : IVectorEnv
{
    /// <summary>Simulated seconds per step (for replay at the true speed).</summary>
    double Dt { get; }

    /// <summary>Names of the bodies, in the order positions are written.</summary>
    IReadOnlyList<string> BodyNames { get; }

    /// <summary>Each body's parent body index (the root's parent is itself), to draw the skeleton.</summary>
    IReadOnlyList<int> BodyParents { get; }

    /// <summary>Writes <c>[bodies, 3]</c> world positions (x, y, z) of instance <paramref name="instance"/>'s bodies.</summary>
    void ReadBodyPositions(int instance, Span<double> positions);
}
