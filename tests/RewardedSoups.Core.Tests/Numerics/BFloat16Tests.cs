using RewardedSoups.Numerics;

namespace RewardedSoups.Tests.Numerics;

public sealed class BFloat16Tests
{
    /// <summary>Independent reference: the nearest bf16 by distance in double, ties to the even code.</summary>
    private static ushort Reference(float value)
    {
        if (float.IsNaN(value)) return 0x7FC0;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        ushort down = (ushort)(bits >> 16);
        if ((bits & 0xFFFF) == 0) return down;
        ushort up = (ushort)(down + 1);
        double d = Math.Abs(value - (double)BFloat16.ToSingle(down));
        double u = Math.Abs((double)BFloat16.ToSingle(up) - value);
        if (float.IsInfinity(BFloat16.ToSingle(up)) && !float.IsInfinity(BFloat16.ToSingle(down)))
        {
            // Past the largest finite bf16, IEEE rounding treats infinity as the next value up.
            u = Math.Abs(Math.Pow(2, 128) - Math.Abs((double)value));
        }
        return d < u ? down : d > u ? up : (down & 1) == 0 ? down : up;
    }

    [Theory]
    [InlineData(0x3F80_8000u, 0x3F80)] // 1 + 2⁻⁸: the tie between 1.0 and its neighbour goes to even 1.0
    [InlineData(0x3F81_8000u, 0x3F82)] // a tie after an odd code goes up, to even
    [InlineData(0x3F80_8001u, 0x3F81)] // just past the tie goes up
    [InlineData(0x3F80_7FFFu, 0x3F80)] // just below the tie goes down
    [InlineData(0x7F7F_FFFFu, 0x7F80)] // the largest float rounds to infinity
    [InlineData(0xFF80_0000u, 0xFF80)] // −∞ stays
    [InlineData(0x8000_0000u, 0x8000)] // −0 stays
    [InlineData(0x0000_0001u, 0x0000)] // the smallest subnormal float rounds to +0
    [InlineData(0x7F80_0001u, 0x7FC0)] // a signalling NaN becomes a quiet NaN
    public void FromSingle_KnownBits_RoundsToNearestEven(uint input, int expected) =>
        Assert.Equal((ushort)expected, BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(input)));

    [Fact]
    public void ToSingleThenFromSingle_EveryBf16_ReproducesItself()
    {
        for (int b = 0; b < 65536; b++)
        {
            float f = BFloat16.ToSingle((ushort)b);
            ushort back = BFloat16.FromSingle(f);
            if (float.IsNaN(f)) Assert.True(float.IsNaN(BFloat16.ToSingle(back)));
            else Assert.Equal((ushort)b, back);
        }
    }

    [Fact]
    public void FromSingle_RandomFloats_MatchesDistanceReference()
    {
        var random = new Random(5);
        for (int i = 0; i < 200_000; i++)
        {
            float f = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            if (float.IsNaN(f)) continue;
            Assert.Equal(Reference(f), BFloat16.FromSingle(f));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(100_003)]
    public void SpanConversions_AwkwardSizes_MatchScalar(int n)
    {
        var random = new Random(n);
        var floats = new float[n];
        for (int i = 0; i < n; i++)
            floats[i] = i % 11 == 0 ? BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)) : (float)(random.NextDouble() * 200 - 100);
        var bits = new ushort[n];
        BFloat16.FromSingle(floats, bits);
        for (int i = 0; i < n; i++) Assert.Equal(BFloat16.FromSingle(floats[i]), bits[i]);
        var back = new float[n];
        BFloat16.ToSingle(bits, back);
        for (int i = 0; i < n; i++) Assert.Equal(BitConverter.SingleToUInt32Bits(BFloat16.ToSingle(bits[i])), BitConverter.SingleToUInt32Bits(back[i]));
    }
}
