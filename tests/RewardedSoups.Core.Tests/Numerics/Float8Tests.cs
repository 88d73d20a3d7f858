using RewardedSoups.Numerics;

namespace RewardedSoups.Tests.Numerics;

public sealed class Float8Tests
{
    [Theory]
    [InlineData(0x38, 1.0f)]
    [InlineData(0x7E, 448f)]
    [InlineData(0xFE, -448f)]
    [InlineData(0x01, 0.001953125f)] // 2⁻⁹, the smallest subnormal
    [InlineData(0x08, 0.015625f)]    // 2⁻⁶, the smallest normal
    [InlineData(0x00, 0f)]
    public void E4M3_Decode_KnownCodes(int code, float value) => Assert.Equal(value, Float8.E4M3.Decode((byte)code));

    [Theory]
    [InlineData(0x3C, 1.0f)]
    [InlineData(0x7B, 57344f)]
    [InlineData(0x01, 1.52587890625e-05f)] // 2⁻¹⁶
    [InlineData(0x7C, float.PositiveInfinity)]
    [InlineData(0xFC, float.NegativeInfinity)]
    public void E5M2_Decode_KnownCodes(int code, float value) => Assert.Equal(value, Float8.E5M2.Decode((byte)code));

    [Fact]
    public void Decode_NaNCodes_AreNaN()
    {
        Assert.True(float.IsNaN(Float8.E4M3.Decode(0x7F)));
        Assert.True(float.IsNaN(Float8.E4M3.Decode(0xFF)));
        Assert.False(float.IsNaN(Float8.E4M3.Decode(0x78))); // E4M3FN has no infinity: 0x78 is 256
        Assert.Equal(256f, Float8.E4M3.Decode(0x78));
        for (int c = 0x7D; c <= 0x7F; c++) Assert.True(float.IsNaN(Float8.E5M2.Decode((byte)c)));
    }

    [Fact]
    public void EncodeDecode_EveryCode_RoundTrips()
    {
        foreach (Float8 format in new[] { Float8.E4M3, Float8.E5M2 })
        {
            for (int c = 0; c < 256; c++)
            {
                float v = format.Decode((byte)c);
                byte back = format.Encode(v);
                if (float.IsNaN(v)) Assert.True(float.IsNaN(format.Decode(back)));
                else Assert.Equal((byte)c, back);
            }
        }
    }

    [Theory]
    [InlineData(464f, 0x7E)]      // the tie above 448 goes to the even code, 448
    [InlineData(464.5f, 0x7F)]    // past it there is no infinity: NaN
    [InlineData(1e9f, 0x7F)]
    [InlineData(0.0009765625f, 0x00)]  // 2⁻¹⁰: tie between 0 and 2⁻⁹ goes to even 0
    [InlineData(0.0029296875f, 0x02)]  // 3·2⁻¹⁰: tie between codes 1 and 2 goes to even 2
    [InlineData(1.0625f, 0x38)]   // tie between 1 (0x38) and 1.125 (0x39): even 0x38
    [InlineData(1.1875f, 0x3A)]   // tie between 1.125 (0x39) and 1.25 (0x3A): even 0x3A
    [InlineData(-1.0f, 0xB8)]
    public void E4M3_Encode_RoundsToNearestEven(float value, int code) => Assert.Equal((byte)code, Float8.E4M3.Encode(value));

    [Theory]
    [InlineData(61440f, 0x7C)]   // the tie above 57344 (odd code 0x7B) goes to the even code, +inf
    [InlineData(61439f, 0x7B)]
    [InlineData(float.PositiveInfinity, 0x7C)]
    [InlineData(float.NegativeInfinity, 0xFC)]
    [InlineData(1.125f, 0x3C)]   // tie between 1 (0x3C) and 1.25 (0x3D): even 0x3C
    public void E5M2_Encode_RoundsToNearestEven(float value, int code) => Assert.Equal((byte)code, Float8.E5M2.Encode(value));

    [Fact]
    public void Encode_RandomValues_PicksANearestCode()
    {
        var random = new Random(8);
        foreach (Float8 format in new[] { Float8.E4M3, Float8.E5M2 })
        {
            for (int i = 0; i < 20_000; i++)
            {
                float v = (float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-20, 17)));
                if (Math.Abs(v) > format.MaxValue) continue;
                double got = format.Decode(format.Encode(v));
                double best = Enumerable.Range(0, 256).Select(c => (double)format.Decode((byte)c)).Where(double.IsFinite).Min(x => Math.Abs(x - v));
                Assert.Equal(best, Math.Abs(got - v));
            }
        }
    }
}
