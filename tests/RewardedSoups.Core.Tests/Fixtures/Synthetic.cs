using System.Buffers.Binary;
using System.Text;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>Tiny synthetic models and raw safetensors bytes for tests.</summary>
public static class Synthetic
{
    /// <summary>A small policy-like model: floating layers of the given dtype and an I64 step counter.</summary>
    public static (TensorSpec Spec, byte[] Data)[] Model(int seed, DType dtype, long step = 7)
    {
        var random = new Random(seed);
        (string, long[])[] layers = [("actor_mean.0.weight", [16, 7]), ("actor_mean.0.bias", [16]), ("actor_mean.2.weight", [3, 16]), ("actor_logstd", [1, 3]), ("scalar", [])];
        var list = new List<(TensorSpec, byte[])>();
        foreach ((string name, long[] shape) in layers)
        {
            long n = shape.Aggregate(1L, (p, d) => p * d);
            var values = new float[n];
            for (int i = 0; i < n; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
            list.Add((new TensorSpec(name, dtype, shape), Encode(dtype, values)));
        }
        list.Add((new TensorSpec("global_step", DType.I64, []), BitConverter.GetBytes(step)));
        return list.ToArray();
    }

    public static byte[] Encode(DType dtype, float[] values)
    {
        var bytes = new byte[values.Length * dtype.Size()];
        ElementConversion.FromSingle(dtype, values, bytes);
        return bytes;
    }

    public static float[] Decode(DType dtype, byte[] bytes)
    {
        var values = new float[bytes.Length / dtype.Size()];
        ElementConversion.ToSingle(dtype, bytes, values);
        return values;
    }

    public static string Write(string path, (TensorSpec Spec, byte[] Data)[] tensors, Dictionary<string, string>? metadata = null)
    {
        SafetensorsWriter.WriteFile(path, tensors, metadata);
        return path;
    }

    /// <summary>A file of the given header text (padded or not) and data, with an optional forged length field.</summary>
    public static byte[] Raw(string header, int dataBytes = 0, ulong? length = null, byte[]? data = null) =>
        Raw(Encoding.UTF8.GetBytes(header), dataBytes, length, data);

    /// <summary>A file of the given header bytes and data, with an optional forged length field.</summary>
    public static byte[] Raw(byte[] json, int dataBytes = 0, ulong? length = null, byte[]? data = null)
    {
        byte[] file = new byte[8 + json.Length + (data?.Length ?? dataBytes)];
        BinaryPrimitives.WriteUInt64LittleEndian(file, length ?? (ulong)json.Length);
        json.CopyTo(file, 8);
        data?.CopyTo(file, 8 + json.Length);
        return file;
    }
}
