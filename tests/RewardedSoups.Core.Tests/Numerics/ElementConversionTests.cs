using System.Runtime.InteropServices;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;

namespace RewardedSoups.Tests.Numerics;

public sealed class ElementConversionTests
{
    [Fact]
    public void F16_EveryNonNaNValue_RoundTripsThroughSingle()
    {
        var halves = new Half[65536];
        for (int i = 0; i < halves.Length; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        byte[] raw = MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
        var floats = new float[halves.Length];
        ElementConversion.ToSingle(DType.F16, raw, floats);
        var back = new byte[raw.Length];
        ElementConversion.FromSingle(DType.F16, floats, back);
        for (int i = 0; i < halves.Length; i++)
        {
            if (Half.IsNaN(halves[i])) continue;
            Assert.Equal((float)halves[i], floats[i]);
            Assert.Equal(raw[2 * i], back[2 * i]);
            Assert.Equal(raw[2 * i + 1], back[2 * i + 1]);
        }
    }

    [Fact]
    public void F16_Ties_RoundToEven()
    {
        // 2049 lies halfway between the halves 2048 and 2050: even mantissa (2048) wins; 2051 → 2052.
        var bytes = new byte[4];
        ElementConversion.FromSingle(DType.F16, [2049f, 2051f], bytes);
        var back = new float[2];
        ElementConversion.ToSingle(DType.F16, bytes, back);
        Assert.Equal([2048f, 2052f], back);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F64)]
    [InlineData(DType.F8E4M3)]
    [InlineData(DType.F8E5M2)]
    public void ToDoubleFromDouble_RepresentableValues_Exact(DType dtype)
    {
        float[] values = [0f, -0f, 1f, -2f, 0.5f, 8f, -0.25f];
        var bytes = new byte[values.Length * dtype.Size()];
        ElementConversion.FromSingle(dtype, values, bytes);
        var doubles = new double[values.Length];
        ElementConversion.ToDouble(dtype, bytes, doubles);
        Assert.Equal(values.Select(v => (double)v), doubles);
        var again = new byte[bytes.Length];
        ElementConversion.FromDouble(dtype, doubles, again);
        Assert.Equal(bytes, again);
    }

    [Fact]
    public void ToSingle_IntegerDType_Rejected() =>
        Assert.Throws<ArgumentException>(() => ElementConversion.ToSingle(DType.I32, new byte[4], new float[1]));
}
