using System.Runtime.CompilerServices;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>MKL's reproducible mode before this assembly's first libtorch computation (see <see cref="Learning.BlasReproducibility"/>).</summary>
internal static class BlasModuleInit
{
#pragma warning disable CA2255 // A library's module initializer, on purpose: MKL's mode must be set before its first computation.
    [ModuleInitializer]
    internal static void OnLoad() => Learning.BlasReproducibility.Ensure();
#pragma warning restore CA2255
}
