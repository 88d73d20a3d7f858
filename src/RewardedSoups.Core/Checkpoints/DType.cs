namespace RewardedSoups.Checkpoints;

/// <summary>Element types of the safetensors format, named as in its header (<c>"dtype": "BF16"</c>).</summary>
public enum DType
{
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

/// <summary>Names, sizes and kinds of <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>The header spelling of a dtype (<c>F8E4M3</c> is written <c>F8_E4M3</c>).</summary>
    public static string Name(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        DType.F8E5M2 => "F8_E5M2",
        DType.F8E4M3 => "F8_E4M3",
        _ => dtype.ToString(),
    };

    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype switch
    {
        DType.Bool or DType.U8 or DType.I8 or DType.F8E5M2 or DType.F8E4M3 => 1,
        DType.I16 or DType.U16 or DType.F16 or DType.BF16 => 2,
        DType.I32 or DType.U32 or DType.F32 => 4,
        DType.F64 or DType.I64 or DType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Floating-point types are interpolated by a soup; the others are copied and must agree.</summary>
    public static bool IsFloat(this DType dtype) =>
        dtype is DType.F8E5M2 or DType.F8E4M3 or DType.F16 or DType.BF16 or DType.F32 or DType.F64;

    /// <summary>Parses a header spelling; null when the name is not a dtype of the format.</summary>
    public static DType? TryParse(string name) => name switch
    {
        "BOOL" => DType.Bool,
        "U8" => DType.U8,
        "I8" => DType.I8,
        "F8_E5M2" => DType.F8E5M2,
        "F8_E4M3" => DType.F8E4M3,
        "I16" => DType.I16,
        "U16" => DType.U16,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "I32" => DType.I32,
        "U32" => DType.U32,
        "F32" => DType.F32,
        "F64" => DType.F64,
        "I64" => DType.I64,
        "U64" => DType.U64,
        _ => null,
    };

    /// <summary>Every dtype, in the order above (used for help texts and error messages).</summary>
    public static IReadOnlyList<DType> All { get; } = Enum.GetValues<DType>();

    /// <summary>Parses a user-given name case-insensitively (<c>bf16</c>, <c>f8_e4m3</c>), or throws naming the valid ones.</summary>
    public static DType ParseUserName(string name, string what)
    {
        DType? parsed = TryParse(name.Trim().ToUpperInvariant());
        return parsed ?? throw new SoupInputException(
            $"{what} '{name}' is not a dtype; valid: {string.Join(", ", All.Select(d => d.Name()))}");
    }
}
