using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RewardedSoups.Checkpoints;

/// <summary>
/// Positional writes of a large output that bypass the page cache (Linux <c>O_DIRECT</c>): each write's
/// 4 KiB-aligned middle goes from an aligned buffer straight to the device, its unaligned ends through the
/// file's ordinary handle. Why: a buffered write copies every byte into freshly allocated page-cache pages
/// and the final flush writes them again; on the virtual machines we measure on, that copy cost 0.8–1.9 s
/// of kernel time per GiB written (perf: <c>copy_folio_from_iter_atomic</c>, a quarter of a ties merge's
/// CPU), a direct write 0.13 s (docs/merging.md, "Speed"). The output is flushed to disk at the end either
/// way, so nothing a user reads changes: the same bytes, fewer CPU seconds.
///
/// Where a file system refuses <c>O_DIRECT</c> (at open or at the first write), or <c>SOUP_DIRECT_IO=0</c>
/// is set, every write is buffered, as before. The aligned middle and the buffered ends never share a
/// page (the alignment is the page size), so the page cache never holds a stale copy of a direct write.
/// </summary>
internal sealed class DirectWrites : IDisposable
{
    /// <summary>Offsets, lengths and buffers of direct writes are multiples of this: the page size, which every block size divides.</summary>
    public const int Alignment = 4096;

    /// <summary>Writes whose aligned middle is smaller than this stay buffered (a small write gains nothing).</summary>
    public const int MinimumBytes = 64 * 1024;

    /// <summary>The aligned copy a thread writes from: at most this much per direct write.</summary>
    private const int ChunkBytes = 2 << 20;

    /// <summary>Setting this environment variable to 0 turns direct writes off.</summary>
    public const string Variable = "SOUP_DIRECT_IO";

    [ThreadStatic] private static byte[]? _threadChunk;

    private SafeFileHandle? _handle;
    private long _bytes;

    private DirectWrites(SafeFileHandle handle) => _handle = handle;

    /// <summary>Bytes written directly so far (tests and the benchmark read it).</summary>
    public long DirectBytes => Interlocked.Read(ref _bytes);

    /// <summary>Whether direct writes are still in use (false after a file system refused one).</summary>
    public bool Active => Volatile.Read(ref _handle) is not null;

    /// <summary>A second handle on <paramref name="path"/> opened for direct writes, or null where they are off or not supported.</summary>
    public static DirectWrites? TryOpen(string path)
    {
        if (Environment.GetEnvironmentVariable(Variable) == "0" || !OperatingSystem.IsLinux()) return null;
        int direct = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => 0x4000,    // O_DIRECT, asm-generic
            Architecture.Arm64 => 0x10000, // O_DIRECT, arm64
            _ => 0,
        };
        if (direct == 0) return null;
        const int WriteOnly = 0x1, CloseOnExec = 0x80000;
        int fd = open(path, WriteOnly | direct | CloseOnExec);
        return fd < 0 ? null : new DirectWrites(new SafeFileHandle(fd, ownsHandle: true));
    }

    /// <summary>Writes <paramref name="bytes"/> at <paramref name="position"/>: the aligned middle directly, the ends through <paramref name="buffered"/>.</summary>
    public void Write(SafeFileHandle buffered, ReadOnlySpan<byte> bytes, long position)
    {
        long first = (position + Alignment - 1) / Alignment * Alignment;
        long last = (position + bytes.Length) / Alignment * Alignment;
        if (last - first < MinimumBytes || !Active)
        {
            RandomAccess.Write(buffered, bytes, position);
            return;
        }
        int head = (int)(first - position), middle = (int)(last - first);
        RandomAccess.Write(buffered, bytes[..head], position);
        Span<byte> chunk = AlignedChunk();
        for (int done = 0; done < middle; done += ChunkBytes)
        {
            ReadOnlySpan<byte> part = bytes.Slice(head + done, Math.Min(ChunkBytes, middle - done));
            SafeFileHandle? handle = Volatile.Read(ref _handle);
            if (handle is not null)
            {
                part.CopyTo(chunk);
                try
                {
                    RandomAccess.Write(handle, chunk[..part.Length], first + done);
                    Interlocked.Add(ref _bytes, part.Length);
                    continue;
                }
                catch (IOException)
                {
                    // A file system that accepted O_DIRECT at open may refuse the write (EINVAL): buffered from now on.
                    if (Interlocked.CompareExchange(ref _handle, null, handle) == handle) handle.Dispose();
                }
            }
            RandomAccess.Write(buffered, part, first + done);
        }
        RandomAccess.Write(buffered, bytes[(head + middle)..], last);
    }

    /// <summary>
    /// <see cref="Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/> of <paramref name="count"/> bytes of a pinned array
    /// (<see cref="PinnedBuffers"/>) from <paramref name="start"/>: where the array's bytes sit at the same remainder of the
    /// alignment as their place in the file, the aligned middle goes to the device straight from the array, without the
    /// copy into the aligned per-thread buffer.
    /// </summary>
    public void Write(SafeFileHandle buffered, byte[] pinned, int start, int count, long position)
    {
        long first = (position + Alignment - 1) / Alignment * Alignment;
        long last = (position + count) / Alignment * Alignment;
        int head = (int)(first - position);
        SafeFileHandle? handle = Volatile.Read(ref _handle);
        if (last - first < MinimumBytes || handle is null || PinnedBuffers.Address(pinned, start + head) % Alignment != 0)
        {
            Write(buffered, pinned.AsSpan(start, count), position);
            return;
        }
        int middle = (int)(last - first);
        RandomAccess.Write(buffered, pinned.AsSpan(start, head), position);
        try
        {
            RandomAccess.Write(handle, pinned.AsSpan(start + head, middle), first);
            Interlocked.Add(ref _bytes, middle);
        }
        catch (IOException)
        {
            // As above: a file system that refuses the write gets buffered writes from now on.
            if (Interlocked.CompareExchange(ref _handle, null, handle) == handle) handle.Dispose();
            RandomAccess.Write(buffered, pinned.AsSpan(start + head, middle), first);
        }
        RandomAccess.Write(buffered, pinned.AsSpan(start + head + middle, count - head - middle), last);
    }

    public void Dispose() => Interlocked.Exchange(ref _handle, null)?.Dispose();

    /// <summary>This thread's <see cref="ChunkBytes"/> buffer, starting on an <see cref="Alignment"/> boundary (a pinned array, so its address stays).</summary>
    private static Span<byte> AlignedChunk()
    {
        byte[] array = _threadChunk ??= GC.AllocateUninitializedArray<byte>(ChunkBytes + Alignment, pinned: true);
        long address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        int offset = (int)((Alignment - address % Alignment) % Alignment);
        return array.AsSpan(offset, ChunkBytes);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
}
