using TorchSharp;

namespace RewardedSoups.Learning;

/// <summary>
/// Constant <see cref="Scalar"/>s for hot paths: a field stays reachable, where a temporary Scalar can be
/// finalized while libtorch reads it (see <see cref="KeptAliveAdam"/> and the build's rule SOUP001).
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0.0, Half = 0.5, One = 1.0, MinusOne = -1.0;
}
