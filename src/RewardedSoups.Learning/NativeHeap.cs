using System.Runtime.InteropServices;

namespace RewardedSoups.Learning;

/// <summary>
/// Keeps the native memory libtorch frees inside the process for its next tensors, instead of giving it back to
/// the kernel at every free (glibc's <c>mallopt</c>: large blocks from the heap, not from <c>mmap</c>; the heap's
/// top not trimmed below 1 GiB of slack).
/// </summary>
/// <remarks>
/// Why: glibc serves a block above its mmap threshold (128 KiB at first, growing with what is freed, at most
/// 32 MiB) by a fresh mapping and unmaps it when freed, so a training step that allocates and frees the same
/// activations every step pays page faults and page zeroing for all of them, every step. On the virtual machines
/// we run on, a page fault is expensive: a `perf` profile of the text base's pre-training (2026-12-03, AMD EPYC
/// Zen 5, PVM guest) spent 22% of its CPU in the hypervisor's fault path (<c>pvm_irq_enable</c>,
/// <c>unmap_page_range</c>, <c>clear_page_erms</c>) and a third of its time in the kernel; with these settings 2.6%,
/// and the throughput rose from 2,270 to 8,040 tokens/s (3.5×; the same 1,200 steps reached the same validation
/// perplexity, 106.5, as the run of the day before; a whole base trained with it, 25.7 minutes, is byte for byte the
/// file trained without it; docs/text.md). The numbers computed are the same bits:
/// where memory comes from does not change what MKL computes in its reproducible mode
/// (<see cref="BlasReproducibility"/>). Memory: freed blocks are reused, so the resident size follows the
/// largest step's need rather than growing. A user's own <c>MALLOC_*</c> settings in the environment are left
/// as they are.
/// </remarks>
public static partial class NativeHeap
{
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;

    /// <summary>Largest block served from the heap; larger ones are mapped (and unmapped) as before.</summary>
    public const int HeapBlockLimit = 256 << 20;

    /// <summary>Applies the settings (Linux with glibc; elsewhere, or under a user's MALLOC_* variables, nothing); <see cref="BlasReproducibility.Ensure"/> calls it once per process.</summary>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        foreach (string name in new[] { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES" })
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 }) return false;
        try
        {
            return mallopt(MmapThreshold, HeapBlockLimit) == 1
                & mallopt(TrimThreshold, 1 << 30) == 1
                & mallopt(TopPad, 64 << 20) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false; // a C library without mallopt
        }
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int parameter, int value);
}
