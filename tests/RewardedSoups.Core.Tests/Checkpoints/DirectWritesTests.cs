using Microsoft.Win32.SafeHandles;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Checkpoints;

/// <summary>
/// Large outputs write their aligned middles past the page cache (O_DIRECT); the bytes must be those of
/// buffered writes whatever the offsets, sizes and threads. One class: a test here sets SOUP_DIRECT_IO.
/// </summary>
public sealed class DirectWritesTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Whether the file system under the test folder takes O_DIRECT writes (tmpfs before Linux 6.6 does not).</summary>
    private bool FolderTakesDirectWrites()
    {
        string probe = _dir.File("probe");
        File.WriteAllBytes(probe, new byte[DirectWrites.Alignment * 32]);
        using DirectWrites? direct = DirectWrites.TryOpen(probe);
        if (direct is null) return false;
        using SafeFileHandle buffered = File.OpenHandle(probe, FileMode.Open, FileAccess.Write);
        direct.Write(buffered, new byte[DirectWrites.Alignment * 32], 0);
        return direct.DirectBytes > 0;
    }

    /// <summary>Tensors of odd sizes (so that no tensor starts on a page), as batches of odd lengths written by two threads in an interleaved order.</summary>
    private static (TensorSpec[] Specs, byte[][] Data) OddModel()
    {
        long[] elements = [5_000_003, 1_234_567, 17, 2_999_999];
        DType[] dtypes = [DType.F32, DType.BF16, DType.F32, DType.F16];
        var random = new Random(7);
        var specs = elements.Select((n, i) => new TensorSpec($"t{i}", dtypes[i], [n])).ToArray();
        var data = specs.Select(s => { var b = new byte[s.ByteLength]; random.NextBytes(b); return b; }).ToArray();
        return (specs, data);
    }

    private static void WriteInBatches(SafetensorsWriter writer, byte[][] data)
    {
        var random = new Random(11);
        var batches = new List<(int Tensor, int Offset, int Length)>();
        for (int t = 0; t < data.Length; t++)
            for (int offset = 0; offset < data[t].Length;)
            {
                int length = Math.Min(data[t].Length - offset, random.Next(1, 3 << 20)); // up to 3 MiB: past one 2 MiB chunk
                batches.Add((t, offset, length));
                offset += length;
            }
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batches));
        Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 },
            b => writer.Write(b.Tensor, b.Offset, data[b.Tensor].AsSpan(b.Offset, b.Length)));
    }

    [Fact]
    public void Writer_UnalignedBatchesFromTwoThreads_WritesTheBytesOfBufferedWrites_AndBypassesTheCacheWhereSupported()
    {
        (TensorSpec[] specs, byte[][] data) = OddModel();
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        string direct = _dir.File("direct.safetensors"), buffered = _dir.File("buffered.safetensors");
        long directBytes;
        using (var writer = new SafetensorsWriter(direct, specs, metadata))
        {
            WriteInBatches(writer, data);
            writer.Complete();
            directBytes = writer.DirectBytes;
        }
        using (var writer = new SafetensorsWriter(buffered, specs, metadata, directWrites: false))
        {
            WriteInBatches(writer, data);
            writer.Complete();
            Assert.Equal(0, writer.DirectBytes);
        }

        Assert.Equal(File.ReadAllBytes(buffered), File.ReadAllBytes(direct));
        using (Checkpoint c = Checkpoint.Open(direct))
        {
            for (int t = 0; t < specs.Length; t++)
            {
                Assert.True(c.TryGet(specs[t].Name, out CheckpointTensor tensor));
                var bytes = new byte[specs[t].ByteLength];
                tensor.File.Read(tensor.Info, 0, bytes);
                Assert.Equal(data[t], bytes);
            }
        }
        long total = specs.Sum(s => s.ByteLength);
        if (FolderTakesDirectWrites())
            Assert.InRange(directBytes, total / 2, total); // the aligned middles of the large batches
        else
            Assert.Equal(0, directBytes);
    }

    [Theory]
    [InlineData(0, 0)]                                              // too small: buffered
    [InlineData(100, DirectWrites.MinimumBytes + 2 * DirectWrites.Alignment)] // unaligned both ends
    [InlineData(DirectWrites.Alignment, 5 * (1 << 20))]             // aligned start and end, past one chunk
    [InlineData(3, DirectWrites.MinimumBytes + DirectWrites.Alignment - 3)]   // the middle just at the minimum
    [InlineData(3, DirectWrites.MinimumBytes + DirectWrites.Alignment - 4)]   // just under it: buffered
    public void Write_AnyOffsetAndLength_PutsTheBytesWhereAsked(int position, int length)
    {
        if (length == 0) length = DirectWrites.MinimumBytes - 1;
        string path = _dir.File("f.bin");
        var before = new byte[position + length + 10_000];
        new Random(1).NextBytes(before);
        File.WriteAllBytes(path, before);
        var bytes = new byte[length];
        new Random(2).NextBytes(bytes);
        using DirectWrites? direct = DirectWrites.TryOpen(path);
        using (SafeFileHandle buffered = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            if (direct is null) RandomAccess.Write(buffered, bytes, position);
            else direct.Write(buffered, bytes, position);
        }
        byte[] expected = before.ToArray();
        bytes.CopyTo(expected, position);
        Assert.Equal(expected, File.ReadAllBytes(path));
        long first = (position + DirectWrites.Alignment - 1) / DirectWrites.Alignment * DirectWrites.Alignment;
        long middle = (position + length) / DirectWrites.Alignment * DirectWrites.Alignment - first;
        if (direct is not null && FolderTakesDirectWrites())
            Assert.Equal(middle >= DirectWrites.MinimumBytes ? middle : 0, direct.DirectBytes);
    }

    [Theory]
    [InlineData(100, 5 * (1 << 20), true)]                        // laid out at the file's remainder: straight from the array
    [InlineData(100, 5 * (1 << 20), false)]                       // one byte off it: through the aligned copy
    [InlineData(DirectWrites.Alignment, 3 * (1 << 20) + 5, true)]  // an aligned start
    [InlineData(7, DirectWrites.MinimumBytes - 1, true)]          // too small: buffered
    public void Write_FromAPinnedArray_PutsTheBytesWhereAsked_WhateverItsAddress(int position, int length, bool sameRemainder)
    {
        string path = _dir.File("f.bin");
        var before = new byte[position + length + 10_000];
        new Random(1).NextBytes(before);
        File.WriteAllBytes(path, before);
        byte[] pinned = PinnedBuffers.Allocate<byte>(length + 2 * DirectWrites.Alignment);
        int start = (int)(((position - PinnedBuffers.Address(pinned, 0)) % DirectWrites.Alignment + DirectWrites.Alignment) % DirectWrites.Alignment)
            + (sameRemainder ? 0 : 1);
        new Random(2).NextBytes(pinned.AsSpan(start, length));
        using DirectWrites? direct = DirectWrites.TryOpen(path);
        using (SafeFileHandle buffered = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            if (direct is null) RandomAccess.Write(buffered, pinned.AsSpan(start, length), position);
            else direct.Write(buffered, pinned, start, length, position);
        }
        byte[] expected = before.ToArray();
        pinned.AsSpan(start, length).CopyTo(expected.AsSpan(position));
        Assert.Equal(expected, File.ReadAllBytes(path));
        long first = (position + DirectWrites.Alignment - 1) / DirectWrites.Alignment * DirectWrites.Alignment;
        long middle = (position + length) / DirectWrites.Alignment * DirectWrites.Alignment - first;
        if (direct is not null && FolderTakesDirectWrites())
            Assert.Equal(middle >= DirectWrites.MinimumBytes ? middle : 0, direct.DirectBytes);
    }

    [Fact]
    public void TryOpen_WithSoupDirectIoZero_KeepsWritesBuffered()
    {
        string path = _dir.File("f.bin");
        File.WriteAllBytes(path, new byte[1 << 20]);
        Environment.SetEnvironmentVariable(DirectWrites.Variable, "0");
        try
        {
            Assert.Null(DirectWrites.TryOpen(path));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DirectWrites.Variable, null);
        }
        using DirectWrites? direct = DirectWrites.TryOpen(path);
        if (FolderTakesDirectWrites()) Assert.NotNull(direct);
    }
}
