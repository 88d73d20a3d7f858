using System.Runtime.InteropServices;
using RewardedSoups.Learning;

namespace RewardedSoups.Tests;

public sealed class NativeHeapTests
{
    /// <summary>glibc's <c>struct mallinfo2</c>: ten size_t counters.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MallocInfo
    {
        public nuint Arena, OrdBlocks, SmallBlocks, MappedBlocks, MappedBytes, UsmBlocks, FsmBlocks, InUse, Free, KeepCost;
    }

    [DllImport("libc")]
    private static extern MallocInfo mallinfo2();

    [Fact]
    public void KeepFreedMemory_ServesLargeBlocksFromTheHeap_SoThatAFreedBlockIsReusedWithoutNewPages()
    {
        Assert.True(NativeHeap.KeepFreedMemory()); // as every libtorch process does first (BlasReproducibility.Ensure)
        const int bytes = 48 << 20; // above glibc's largest dynamic mmap threshold (32 MiB): mapped without the settings
        nuint mappedBefore = mallinfo2().MappedBytes;
        IntPtr block = Marshal.AllocHGlobal(bytes); // malloc
        nuint mappedDuring = mallinfo2().MappedBytes;
        Marshal.FreeHGlobal(block);
        Assert.True(mappedDuring < mappedBefore + (nuint)bytes / 2, $"a {bytes >> 20} MiB block was mapped ({mappedBefore} → {mappedDuring} mapped bytes)");
    }
}
