using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.Numerics;

/// <summary>
/// Converts raw little-endian tensor bytes of a floating dtype to float32 or float64 and back,
/// rounding to nearest with ties to even. The accumulation type of a soup is float32, or float64 for
/// F64 inputs (<see cref="AccumulatesInDouble"/>).
/// </summary>
public static class ElementConversion
{
    public static bool AccumulatesInDouble(DType dtype) => dtype == DType.F64;

    public static void ToSingle(DType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case DType.F32: MemoryMarshal.Cast<byte, float>(source).CopyTo(destination); break;
            case DType.F16: TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination); break;
            case DType.BF16: BFloat16.ToSingle(MemoryMarshal.Cast<byte, ushort>(source), destination); break;
            case DType.F8E4M3: Float8.E4M3.Decode(source, destination); break;
            case DType.F8E5M2: Float8.E5M2.Decode(source, destination); break;
            case DType.F64: TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<byte, double>(source), destination); break;
            default: throw new ArgumentException($"{dtype.Name()} is not a floating dtype", nameof(dtype));
        }
    }

    public static void FromSingle(DType dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        switch (dtype)
        {
            case DType.F32: MemoryMarshal.AsBytes(source).CopyTo(destination); break;
            case DType.F16: TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination)); break;
            case DType.BF16: BFloat16.FromSingle(source, MemoryMarshal.Cast<byte, ushort>(destination)); break;
            case DType.F8E4M3: Float8.E4M3.Encode(source, destination); break;
            case DType.F8E5M2: Float8.E5M2.Encode(source, destination); break;
            case DType.F64: TensorPrimitives.ConvertChecked(source, MemoryMarshal.Cast<byte, double>(destination)); break;
            default: throw new ArgumentException($"{dtype.Name()} is not a floating dtype", nameof(dtype));
        }
    }

    public static void ToDouble(DType dtype, ReadOnlySpan<byte> source, Span<double> destination)
    {
        if (dtype == DType.F64)
        {
            MemoryMarshal.Cast<byte, double>(source).CopyTo(destination);
            return;
        }
        float[] scratch = new float[source.Length / dtype.Size()];
        ToSingle(dtype, source, scratch);
        TensorPrimitives.ConvertChecked<float, double>(scratch, destination);
    }

    public static void FromDouble(DType dtype, ReadOnlySpan<double> source, Span<byte> destination)
    {
        if (dtype == DType.F64)
        {
            MemoryMarshal.AsBytes(source).CopyTo(destination);
            return;
        }
        // double → float rounds to nearest even; a second rounding to a narrower type can in rare
        // ties differ from one direct rounding (double rounding). F64 inputs soup into F64 by default.
        float[] scratch = new float[source.Length];
        TensorPrimitives.ConvertTruncating(source, scratch.AsSpan());
        FromSingle(dtype, scratch, destination);
    }
}
