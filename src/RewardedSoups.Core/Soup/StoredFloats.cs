using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RewardedSoups.Soup;

/// <summary>
/// A slice of float32 values as the checkpoint stores them: float32, or bfloat16 (the upper half of a float32).
/// A kernel reads it through <see cref="SingleLanes"/> or <see cref="BFloat16Lanes"/> (see <see cref="IsBFloat16"/>), so a
/// bfloat16 slice is widened in registers as it is used instead of into a float32 copy the kernel then reads again.
/// The values are the same either way: widening bfloat16 is exact.
/// </summary>
public readonly ref struct StoredFloats
{
    public StoredFloats(ReadOnlySpan<byte> bytes, bool isBFloat16)
    {
        Bytes = bytes;
        IsBFloat16 = isBFloat16;
    }

    /// <summary>float32 values already in memory.</summary>
    public StoredFloats(ReadOnlySpan<float> values) : this(MemoryMarshal.AsBytes(values), false)
    {
    }

    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>bfloat16 (2 bytes an element), else float32 (4).</summary>
    public bool IsBFloat16 { get; }

    public int Count => Bytes.Length / (IsBFloat16 ? 2 : 4);

    /// <summary>The first byte, for the lanes' loads.</summary>
    public ref byte Data => ref MemoryMarshal.GetReference(Bytes);
}

/// <summary>How a kernel reads float32 values from stored bytes: eight at a time into a register, or one.</summary>
public interface IFloatLanes
{
    /// <summary>Bytes an element.</summary>
    static abstract int Size { get; }

    /// <summary>Elements <paramref name="index"/> … index + 7 as float32.</summary>
    static abstract Vector256<float> Load(ref byte data, nuint index);

    /// <summary>Elements <paramref name="index"/> … index + 15 as float32 (only where <see cref="Vector512.IsHardwareAccelerated"/>).</summary>
    static abstract Vector512<float> Load512(ref byte data, nuint index);

    /// <summary>Element <paramref name="index"/> as float32.</summary>
    static abstract float Get(ref byte data, nuint index);
}

/// <summary>float32 bytes: the values themselves.</summary>
public readonly struct SingleLanes : IFloatLanes
{
    public static int Size => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref byte data, nuint index) => Vector256.LoadUnsafe(ref Unsafe.As<byte, float>(ref data), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte data, nuint index) => Vector512.LoadUnsafe(ref Unsafe.As<byte, float>(ref data), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Get(ref byte data, nuint index) => Unsafe.Add(ref Unsafe.As<byte, float>(ref data), index);
}

/// <summary>bfloat16 bytes: each element zero-extended to 32 bits and shifted into a float32's upper half (one <c>vpmovzxwd</c> and a shift).</summary>
public readonly struct BFloat16Lanes : IFloatLanes
{
    public static int Size => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref byte data, nuint index)
    {
        Vector128<ushort> bits = Vector128.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref data), index);
        Vector256<uint> wide = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(bits).AsUInt32()
            : Vector256.Create(Vector128.WidenLower(bits), Vector128.WidenUpper(bits));
        return (wide << 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte data, nuint index)
    {
        Vector256<ushort> bits = Vector256.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref data), index);
        Vector512<uint> wide = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512UInt32(bits)
            : Vector512.Create(Vector256.WidenLower(bits), Vector256.WidenUpper(bits));
        return (wide << 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Get(ref byte data, nuint index) => BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref Unsafe.As<byte, ushort>(ref data), index) << 16);
}
