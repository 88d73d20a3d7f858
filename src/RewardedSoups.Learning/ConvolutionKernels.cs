using System.Runtime.InteropServices;
using TorchSharp;

namespace RewardedSoups.Learning;

/// <summary>
/// Makes libtorch compute convolutions with its own im2col + BLAS kernels ("slow_conv2d") instead of
/// oneDNN's JIT kernels, for the whole process.
/// </summary>
/// <remarks>
/// Why: on AMD EPYC (Zen 5) virtual machines, libtorch 2.10's oneDNN 3.7.1 JIT convolutions
/// (<c>jit:avx512_core</c>, and <c>jit:avx2</c> when limited to AVX2) return wrong numbers — forward
/// outputs off by O(1) and NaN in input gradients, at random places that move with unrelated memory
/// use. Measured on the U-Net's shapes against a float64 reference: relative error 0.92–1.04 with oneDNN
/// at every ISA from AVX2 to AVX512_CORE_AMX; 6e-7 with the kernels selected here. These machines'
/// hypervisor reports no cache topology (CPUID leaves 4 and 0x8000001D are all zero), which oneDNN's
/// blocking relies on; that is our best explanation, not a proven one. The same libtorch's BLAS
/// (MKL sgemm, which linear layers use) is correct there: the text and locomotion tasks reproduce
/// their numbers to the last digit. docs/images.md has the measurements and the cost (convolutions about
/// 5× slower than the wrong ones, image training about 3×).
///
/// TorchSharp 0.107 exposes no switch for it (PyTorch's <c>torch.backends.mkldnn.enabled</c>), so this
/// calls libtorch's own C++ setter <c>at::Context::setUserEnabledMkldnn(bool)</c> by its exported
/// (Itanium-mangled) name; NNPACK is switched off too (it is not built for these CPUs and would warn on
/// every call). The setting is read back; a libtorch without these symbols fails loudly here rather than
/// computing wrong convolutions silently.
/// </remarks>
public static partial class ConvolutionKernels
{
    private static readonly Lock Gate = new();
    private static bool _applied;

    /// <summary>Switches oneDNN and NNPACK convolutions off for this process (idempotent, thread-safe).</summary>
    public static void UseReferenceKernels()
    {
        lock (Gate)
        {
            if (_applied) return;
            torch.InitializeDeviceType(DeviceType.CPU);   // loads libtorch, whose global context is set below
            try
            {
                IntPtr context = GlobalContext();
                SetUserEnabledMkldnn(context, false);
                SetUserEnabledNnpack(context, false);
                if (UserEnabledMkldnn(context))
                    throw new InvalidOperationException("libtorch kept oneDNN convolutions enabled after being told to disable them");
            }
            catch (EntryPointNotFoundException e)
            {
                throw new InvalidOperationException($"this libtorch does not export the switch for oneDNN convolutions ({e.Message}); see RewardedSoups.Learning.ConvolutionKernels", e);
            }
            _applied = true;
        }
    }

    /// <summary>
    /// For the convolution benchmark only (<c>bench conv</c>), which times both kinds in one run: switches oneDNN
    /// convolutions on or off for this process. Never on in the product, whose numbers would be wrong on some CPUs.
    /// </summary>
    internal static void SetOneDnnForBenchmark(bool enabled)
    {
        lock (Gate)
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            SetUserEnabledMkldnn(GlobalContext(), enabled);
            _applied = !enabled;
        }
    }

    /// <summary>Whether libtorch would use oneDNN for convolutions now (false once <see cref="UseReferenceKernels"/> ran).</summary>
    public static bool OneDnnEnabled
    {
        get
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            return UserEnabledMkldnn(GlobalContext());
        }
    }

    private const string LibTorch = "libtorch_cpu";

    [LibraryImport(LibTorch, EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport(LibTorch, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static partial void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.I1)] bool enabled);

    [LibraryImport(LibTorch, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static partial void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.I1)] bool enabled);

    [LibraryImport(LibTorch, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.I1)]
    private static partial bool UserEnabledMkldnn(IntPtr context);
}
