namespace RewardedSoups.Numerics;

/// <summary>
/// The two 8-bit float formats of safetensors (OCP FP8, as in PyTorch's <c>float8_e4m3fn</c> and
/// <c>float8_e5m2</c>). E4M3FN: bias 7, no infinities, only 0x7F/0xFF are NaN, largest 448.
/// E5M2: IEEE-like, bias 15, infinities at 0x7C/0xFC, largest 57344.
/// Decoding is a table look-up; encoding rounds to nearest, ties to even, by binary search over the
/// 128 magnitudes (F8 output is rare, so clarity wins over speed here).
/// </summary>
public sealed class Float8
{
    public static Float8 E4M3 { get; } = new(exponentBits: 4, mantissaBits: 3, finiteOnly: true);

    public static Float8 E5M2 { get; } = new(exponentBits: 5, mantissaBits: 2, finiteOnly: false);

    private readonly float[] _decode = new float[256];
    private readonly int _maxFiniteCode;   // largest positive finite code (0x7E for E4M3, 0x7B for E5M2)
    private readonly double _overflowTie;  // halfway between the largest finite and the next power-of-step above it
    private readonly byte _overflowCode;   // what overflow rounds to: NaN (E4M3, no infinity) or +inf (E5M2)

    private Float8(int exponentBits, int mantissaBits, bool finiteOnly)
    {
        int bias = (1 << (exponentBits - 1)) - 1;
        int maxExp = (1 << exponentBits) - 1;
        for (int code = 0; code < 256; code++)
        {
            int sign = code >> 7;
            int exp = (code >> mantissaBits) & maxExp;
            int man = code & ((1 << mantissaBits) - 1);
            double value;
            if (finiteOnly && exp == maxExp && man == (1 << mantissaBits) - 1) value = double.NaN;
            else if (!finiteOnly && exp == maxExp) value = man == 0 ? double.PositiveInfinity : double.NaN;
            else if (exp == 0) value = man * Math.Pow(2, 1 - bias - mantissaBits);
            else value = (1 + man / (double)(1 << mantissaBits)) * Math.Pow(2, exp - bias);
            _decode[code] = (float)(sign == 1 ? -value : value);
        }
        _maxFiniteCode = finiteOnly ? 0x7E : (maxExp << mantissaBits) - 1;
        double max = _decode[_maxFiniteCode];
        double step = max - _decode[_maxFiniteCode - 1];
        _overflowTie = max + step / 2;
        _overflowCode = finiteOnly ? (byte)0x7F : (byte)(maxExp << mantissaBits);
        MaxValue = (float)max;
    }

    /// <summary>The largest finite value.</summary>
    public float MaxValue { get; }

    public float Decode(byte code) => _decode[code];

    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = _decode[source[i]];
    }

    public byte Encode(float value)
    {
        byte sign = float.IsNegative(value) ? (byte)0x80 : (byte)0;
        if (float.IsNaN(value)) return (byte)(0x7F | sign);
        double a = Math.Abs((double)value);
        double max = _decode[_maxFiniteCode];
        if (a > max)
        {
            // Past the largest finite value: round to it below the tie, to overflow above.
            // At the tie itself, the even code wins: 448 (0x7E) for E4M3, +inf (0x7C) for E5M2.
            bool toOverflow = a > _overflowTie || (a == _overflowTie && (_overflowCode & 1) == 0);
            return (byte)((toOverflow ? _overflowCode : _maxFiniteCode) | sign);
        }
        // Largest code whose magnitude is <= a (magnitudes grow with the code).
        int lo = 0, hi = _maxFiniteCode;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_decode[mid] <= a) lo = mid; else hi = mid - 1;
        }
        int code = lo;
        if (code < _maxFiniteCode)
        {
            double below = a - _decode[code];
            double above = _decode[code + 1] - a;
            if (above < below || (above == below && (code & 1) == 1)) code++;
        }
        return (byte)(code | sign);
    }

    public void Encode(ReadOnlySpan<float> source, Span<byte> destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = Encode(source[i]);
    }
}
