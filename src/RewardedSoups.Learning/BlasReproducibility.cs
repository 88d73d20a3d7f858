using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace RewardedSoups.Learning;

/// <summary>
/// Makes libtorch's MKL give the same floating-point results on every run of one machine: MKL's
/// Conditional Numerical Reproducibility in AUTO, STRICT mode (what <c>MKL_CBWR=AUTO,STRICT</c> asks).
/// </summary>
/// <remarks>
/// Why: without it, MKL picks code paths by the memory alignment of its inputs, which changes from one
/// process to the next (address-space randomisation), so the same policy evaluated twice on the same seed
/// gave returns differing in the 8th digit (measured 2026-12-02 on the cheetah: −0.42408153 vs −0.42408154),
/// and a chaotic simulation can grow such a difference into another trajectory. With AUTO,STRICT three runs
/// gave the same bits. The mode must be set before MKL's first computation, so every assembly that computes
/// with libtorch calls <see cref="Ensure"/> from its module initializer. TorchSharp has no switch for it; this
/// calls MKL's service function exported by libtorch (<c>mkl_serv_cbwr_set</c>, what <c>mkl_cbwr_set</c> is
/// built on) and reads the mode back, failing loudly if it did not take. The cost: MKL's AUTO branch is the
/// one it would pick anyway for this CPU; STRICT gives up alignment-dependent shortcuts (not measurable in our
/// benchmarks, whose matrices are small).
/// </remarks>
public static partial class BlasReproducibility
{
    private const int CbwrAll = -1, CbwrAuto = 2, CbwrStrict = 0x10000, CbwrSuccess = 0;

    private static readonly Lock Gate = new();
    private static bool _applied;

    /// <summary>Sets MKL's reproducible mode for this process (idempotent, thread-safe); an environment's own <c>MKL_CBWR</c> is left as it is.</summary>
    public static void Ensure()
    {
        lock (Gate)
        {
            if (_applied) return;
            _applied = true;
            NativeHeap.KeepFreedMemory(); // here because every libtorch user passes here first
            if (Environment.GetEnvironmentVariable("MKL_CBWR") is { Length: > 0 }) return;   // the user chose a mode
            torch.InitializeDeviceType(DeviceType.CPU);
            int status, mode;
            try
            {
                status = CbwrSet(CbwrAuto | CbwrStrict);
                mode = CbwrGet(CbwrAll);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new InvalidOperationException($"this libtorch does not export MKL's reproducibility switch ({e.Message}); see RewardedSoups.Learning.BlasReproducibility", e);
            }
            if (status != CbwrSuccess || (mode & ~CbwrStrict) != CbwrAuto)
                throw new InvalidOperationException($"MKL refused its reproducible mode (status {status}, mode {mode}): set MKL_CBWR=AUTO,STRICT in the environment");
        }
    }

    /// <summary>MKL's current reproducibility mode, as <c>mkl_cbwr_get(MKL_CBWR_ALL)</c> reports it.</summary>
    public static int Mode
    {
        get
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            return CbwrGet(CbwrAll);
        }
    }

#pragma warning disable CA2255 // A library's module initializer, on purpose: MKL's mode must be set before its first computation, whichever type computes first.
    [ModuleInitializer]
    internal static void OnLoad() => Ensure();
#pragma warning restore CA2255

    private const string LibTorch = "libtorch_cpu";

    [LibraryImport(LibTorch, EntryPoint = "mkl_serv_cbwr_set")]
    private static partial int CbwrSet(int settings);

    [LibraryImport(LibTorch, EntryPoint = "mkl_serv_cbwr_get")]
    private static partial int CbwrGet(int option);
}
