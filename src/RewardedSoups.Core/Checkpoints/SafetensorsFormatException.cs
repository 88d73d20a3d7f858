namespace RewardedSoups.Checkpoints;

/// <summary>What is wrong with a safetensors file; each violation of the format has its own kind.</summary>
public enum SafetensorsError
{
    /// <summary>Shorter than the 8-byte header length.</summary>
    FileTooSmall,
    /// <summary>The header length exceeds the 100 MB bound of the reference implementation.</summary>
    HeaderTooLarge,
    /// <summary>The header length points past the end of the file.</summary>
    HeaderPastEndOfFile,
    /// <summary>The header is not valid UTF-8.</summary>
    HeaderNotUtf8,
    /// <summary>The header does not start with '{'.</summary>
    HeaderNotObject,
    /// <summary>The header is not valid JSON (a lone surrogate escape included), or has an unexpected shape.</summary>
    HeaderNotJson,
    /// <summary>Two entries share a name.</summary>
    DuplicateTensor,
    /// <summary>A tensor entry lacks a field or has one of the wrong type.</summary>
    InvalidTensorEntry,
    /// <summary>A dtype name the format does not define.</summary>
    UnknownDType,
    /// <summary><c>__metadata__</c> is not a map of strings to strings.</summary>
    InvalidMetadata,
    /// <summary>Offsets leave a gap, overlap, or run backwards.</summary>
    NonContiguousOffsets,
    /// <summary>Shape × dtype size overflows 64 bits.</summary>
    SizeOverflow,
    /// <summary>The byte range of a tensor differs from shape × dtype size.</summary>
    SizeMismatch,
    /// <summary>A tensor's bytes extend past the end of the file (a truncated file).</summary>
    DataPastEndOfFile,
    /// <summary>Bytes after the last tensor.</summary>
    TrailingBytes,
    /// <summary>More tensors, or metadata entries, than <see cref="SafetensorsHeader.MaxEntries"/>.</summary>
    TooManyEntries,
    /// <summary>A shape of more than <see cref="SafetensorsHeader.MaxRank"/> dimensions.</summary>
    TooManyDimensions,
    /// <summary>A tensor name or metadata key longer than <see cref="SafetensorsHeader.MaxNameBytes"/>.</summary>
    NameTooLong,
}

/// <summary>
/// A safetensors file breaks the format; the message names the file and, where one is at fault, the
/// tensor (escaped and cut by <see cref="Printable.Quote"/>: a name from a hostile file is printed safely).
/// </summary>
public sealed class SafetensorsFormatException : SoupInputException
{
    public SafetensorsFormatException(SafetensorsError error, string file, string? tensor, string detail)
        : base(Compose(file, tensor, detail))
    {
        Error = error;
        File = file;
        Tensor = tensor;
    }

    public SafetensorsError Error { get; }

    public string File { get; }

    public string? Tensor { get; }

    private static string Compose(string file, string? tensor, string detail) =>
        tensor is null ? $"{file}: {detail}" : $"{file}: tensor {Printable.Quote(tensor)}: {detail}";
}
