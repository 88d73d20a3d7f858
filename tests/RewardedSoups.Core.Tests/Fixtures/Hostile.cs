using System.Text;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// Hostile safetensors inputs, generated (never committed): headers that declare much in few bytes.
/// Shared by the core and the command-line tests (FIFOs: <see cref="Fifo"/>).
/// </summary>
public static class Hostile
{
    /// <summary>One U8 tensor of shape [1, 1, …] with <paramref name="rank"/> ones: 2 header bytes per dimension.</summary>
    public static byte[] HugeRank(int rank)
    {
        byte[] head = Encoding.ASCII.GetBytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[");
        byte[] tail = Encoding.ASCII.GetBytes("],\"data_offsets\":[0,1]}}");
        var json = new byte[head.Length + 2 * rank - 1 + tail.Length];
        head.CopyTo(json, 0);
        for (int i = 0; i < rank; i++)
        {
            json[head.Length + 2 * i] = (byte)'1';
            if (i < rank - 1) json[head.Length + 2 * i + 1] = (byte)',';
        }
        tail.CopyTo(json, head.Length + 2 * rank - 1);
        return Synthetic.Raw(json, dataBytes: 1);
    }

    /// <summary><paramref name="count"/> zero-size tensors (about 58 header bytes each), a valid file while under the limit.</summary>
    public static byte[] ZeroSizeTensors(int count)
    {
        ReadOnlySpan<byte> entry = "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}"u8;
        var json = new byte[2 + (long)count * (entry.Length + 13)];
        int at = 0;
        json[at++] = (byte)'{';
        for (int i = 0; i < count; i++)
        {
            if (i > 0) json[at++] = (byte)',';
            json[at++] = (byte)'"';
            json[at++] = (byte)'t';
            i.TryFormat(json.AsSpan(at), out int digits);
            at += digits;
            entry.CopyTo(json.AsSpan(at));
            at += entry.Length;
        }
        json[at++] = (byte)'}';
        return Synthetic.Raw(json[..at]);
    }

    /// <summary>One U8 tensor whose name is <paramref name="nameBytes"/> ASCII letters.</summary>
    public static byte[] LongName(int nameBytes)
    {
        ReadOnlySpan<byte> entry = "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}"u8;
        var json = new byte[2 + nameBytes + entry.Length];
        json[0] = (byte)'{';
        json[1] = (byte)'"';
        json.AsSpan(2, nameBytes).Fill((byte)'n');
        entry.CopyTo(json.AsSpan(2 + nameBytes));
        return Synthetic.Raw(json, dataBytes: 1);
    }

    /// <summary>Managed bytes allocated on this thread by <paramref name="action"/> (it runs on this thread).</summary>
    public static long Allocated(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
