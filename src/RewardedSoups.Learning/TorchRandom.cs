using TorchSharp;

namespace RewardedSoups.Learning;

/// <summary>
/// The one gate to libtorch's default random generator. That generator is one per process, shared by every
/// thread, and module constructors draw their initial weights from it: "seed, then construct" gives the
/// same weights only if no other thread draws in between. Every draw from it in this code goes through
/// this gate — <see cref="Seeded{T}"/> for an initialisation that must be reproducible, <see cref="Shared{T}"/>
/// for a construction whose weights are replaced at once (a checkpoint's load) but that draws all the same —
/// so that trainings running side by side in one process (a library user's threads, the test runner's
/// classes) start from the weights their seeds give. Everything else (sampling, minibatch order, noise)
/// draws from its own <c>torch.Generator</c>, never from the default one.
/// </summary>
public static class TorchRandom
{
    private static readonly Lock Gate = new();

    /// <summary>Seeds the default generator with <paramref name="seed"/> and runs <paramref name="build"/>, with no other draw in between.</summary>
    public static T Seeded<T>(long seed, Func<T> build)
    {
        lock (Gate)
        {
            torch.random.manual_seed(seed);
            return build();
        }
    }

    /// <summary>Runs <paramref name="build"/>, which draws from the default generator, while no seeded initialisation is under way.</summary>
    public static T Shared<T>(Func<T> build)
    {
        lock (Gate) return build();
    }
}
