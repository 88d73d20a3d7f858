namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// A small deterministic random stream (SplitMix64, Steele et al. 2014) for reset noise: a value type,
/// so an environment keeps one per instance in an array and draws from it without allocating. The
/// stream depends only on (seed, instance), the same on every machine and .NET version.
/// </summary>
internal struct NoiseStream
{
    private const ulong Golden = 0x9E3779B97F4A7C15;
    private ulong _state;

    public NoiseStream(int seed, int instance)
    {
        // (seed, instance) → 64 bits is one-to-one; the finaliser then spreads neighbouring pairs apart.
        _state = Mix(((ulong)(uint)seed << 32) | (uint)instance);
    }

    /// <summary>The stream's position, what a checkpoint saves; <see cref="FromState"/> continues from it.</summary>
    public readonly ulong State => _state;

    public static NoiseStream FromState(ulong state) => new() { _state = state };

    /// <summary>Uniform in [-1, 1).</summary>
    public double NextSymmetric() => 2 * NextUnit() - 1;

    /// <summary>Standard normal, by Box–Muller (one of the pair; the other is dropped for simplicity).</summary>
    public double NextGaussian()
    {
        double u1 = 1 - NextUnit(); // (0, 1]: keeps the logarithm finite
        double u2 = NextUnit();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextUnit() => (Next() >> 11) * (1.0 / (1UL << 53));

    private ulong Next()
    {
        _state += Golden;
        return Mix(_state);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
