namespace RewardedSoups.Checkpoints;

/// <summary>
/// One tensor entry of a safetensors header: its dtype, its shape and where its bytes lie,
/// as offsets relative to the start of the data section (the byte after the header).
/// </summary>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Bytes the tensor occupies (<c>End - Begin</c>, checked at parse time to equal elements × dtype size).</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => ByteLength / DType.Size();

    /// <summary>The shape as written in messages: <c>[64, 17]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    public static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Element count of a shape, or null when it overflows a signed 64-bit count.</summary>
    public static long? CheckedElementCount(IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0) return null;
            try { count = checked(count * dim); }
            catch (OverflowException) { return null; }
        }
        return count;
    }
}
