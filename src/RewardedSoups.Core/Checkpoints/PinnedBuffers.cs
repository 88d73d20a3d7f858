using System.Runtime.InteropServices;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// Large buffers that stay put (pinned: their address is fixed, so a direct write can go straight from them) and are
/// backed by transparent huge pages where Linux allows it (<c>madvise(MADV_HUGEPAGE)</c> on their 2 MiB-aligned middle).
/// Why: a buffer of tens of MiB that a merge fills once per process takes a page fault per 4 KiB page at its first
/// touch, and on the virtual machines we measure on a fault is dear (a one-read TIES merge of 3 × 1 GiB took 38,000
/// faults; docs/merging.md, "One read"); with 2 MiB pages it takes one per 2 MiB. Where the hint is refused (THP off,
/// not Linux) the buffer is an ordinary pinned array.
/// </summary>
internal static class PinnedBuffers
{
    private const int HugePage = 2 << 20;
    private const int AdviseHugePage = 14; // MADV_HUGEPAGE

    /// <summary>An uninitialised pinned array of <paramref name="length"/> elements, its huge-page-sized middle advised.</summary>
    public static T[] Allocate<T>(int length) where T : unmanaged
    {
        T[] array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        long bytes = (long)length * Marshal.SizeOf<T>();
        if (bytes >= 2L * HugePage && OperatingSystem.IsLinux())
        {
            long address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
            long first = (address + HugePage - 1) / HugePage * HugePage, last = (address + bytes) / HugePage * HugePage;
            if (last > first) _ = madvise((nint)first, (nuint)(last - first), AdviseHugePage); // a hint: refused is fine
        }
        return array;
    }

    /// <summary>The address of element <paramref name="index"/> of a pinned array.</summary>
    public static long Address<T>(T[] pinned, int index) => Marshal.UnsafeAddrOfPinnedArrayElement(pinned, index);

    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(nint address, nuint length, int advice);
}
