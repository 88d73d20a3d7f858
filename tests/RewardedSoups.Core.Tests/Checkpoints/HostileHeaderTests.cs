using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Checkpoints;

/// <summary>
/// Headers that declare much in few bytes, or hide text meant for the terminal: each is refused with
/// its own error, in one short escaped line, and parsing costs a small multiple of the header's bytes.
/// </summary>
public sealed class HostileHeaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Opens the bytes as a file, expects a format error, and returns it with the managed bytes the open allocated.</summary>
    private (SafetensorsFormatException Error, long Allocated) Fails(byte[] bytes)
    {
        string path = _dir.File("hostile.safetensors");
        File.WriteAllBytes(path, bytes);
        SafetensorsFormatException? error = null;
        long allocated = Hostile.Allocated(() => error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose()));
        Assert.StartsWith(path + ": ", error!.Message);
        Assert.DoesNotContain(error.Message, c => char.IsControl(c));
        Assert.True(error.Message.Length < path.Length + 400, $"a message of {error.Message.Length} characters");
        return (error, allocated);
    }

    /// <summary>
    /// Expects the error <paramref name="expected"/> at the cost of the header buffer alone: nothing
    /// allocated in proportion to what the header declares (dimensions, entries, name bytes).
    /// </summary>
    private SafetensorsFormatException FailsWithinItsHeader(byte[] bytes, SafetensorsError expected)
    {
        var (e, allocated) = Fails(bytes);
        Assert.Equal(expected, e.Error);
        Assert.InRange(allocated, 0, bytes.Length + (1 << 20));
        return e;
    }

    /// <summary>Opens the bytes as a file, which must be valid.</summary>
    private SafetensorsFile Opens(byte[] bytes)
    {
        string path = _dir.File("valid.safetensors");
        File.WriteAllBytes(path, bytes);
        return SafetensorsFile.Open(path);
    }

    [Fact]
    public void Open_ShapeOfMillionsOfDimensions_RefusedWithoutAllocatingThem()
    {
        // As the issue's [1, 1, … ×49.9M] (100 MB of header, 2.9 GB to inspect), at a tenth of its size.
        var e = FailsWithinItsHeader(Hostile.HugeRank(5_000_000), SafetensorsError.TooManyDimensions);
        Assert.Equal("a", e.Tensor);
        Assert.Contains("more than 64 dimensions", e.Message);
    }

    [Fact]
    public void Open_ShapeOfMaxRank_Accepted()
    {
        using SafetensorsFile f = Opens(Hostile.HugeRank(SafetensorsHeader.MaxRank));
        Assert.Equal(SafetensorsHeader.MaxRank, f.Tensors[0].Shape.Length);
    }

    [Fact]
    public void Open_OneTensorOverTheLimit_TooManyEntries()
    {
        // 1.7M zero-size tensors once cost 1.9 GB; one past the limit is refused.
        // Counted before any is made: nothing is allocated per tensor.
        var e = FailsWithinItsHeader(Hostile.ZeroSizeTensors(SafetensorsHeader.MaxEntries + 1), SafetensorsError.TooManyEntries);
        Assert.Contains("more than 1,000,000 tensors", e.Message);
    }

    [Fact]
    public void Open_ManyMembersThatCannotBeEntries_DoNotSizeTheTables()
    {
        // 999 999 members of 10 bytes: under the limit, but no 49-byte tensor entry fits in 10 bytes.
        var sb = new System.Text.StringBuilder("{");
        for (int i = 0; i < SafetensorsHeader.MaxEntries - 1; i++) sb.Append(i == 0 ? "" : ",").Append("\"k").Append(i).Append("\":0");
        byte[] bytes = Synthetic.Raw(sb.Append('}').ToString());
        var (e, allocated) = Fails(bytes);
        Assert.Equal(SafetensorsError.InvalidTensorEntry, e.Error);
        Assert.InRange(allocated, 0, 2L * bytes.Length);
    }

    [Fact]
    public void Open_ManyZeroSizeTensors_AllocatesASmallMultipleOfTheHeader()
    {
        byte[] bytes = Hostile.ZeroSizeTensors(200_000);
        string path = _dir.File("many.safetensors");
        File.WriteAllBytes(path, bytes);
        // Measured: 4.4× for the file, 5.6× for the checkpoint (names, shapes, entries and their tables).
        Assert.InRange(Hostile.Allocated(() => SafetensorsFile.Open(path).Dispose()), 0, 5L * bytes.Length);
        long allocated = Hostile.Allocated(() =>
        {
            using Checkpoint c = Checkpoint.Open(path);
            Assert.Equal(200_000, c.Tensors.Count);
        });
        Assert.InRange(allocated, 0, 7L * bytes.Length);
    }

    [Theory]
    [InlineData(10_000_000)] // as the issue's 90 MB name (659 MB to inspect), at a ninth of its size
    [InlineData(SafetensorsHeader.MaxNameBytes + 1)]
    public void Open_NameOverTheLimit_RefusedWithoutMakingIt(int nameBytes)
    {
        var e = FailsWithinItsHeader(Hostile.LongName(nameBytes), SafetensorsError.NameTooLong);
        Assert.Contains("tensor name 'nnnnnnnn", e.Message);
        Assert.Contains($"({nameBytes} bytes)", e.Message);
    }

    [Fact]
    public void Open_NameAtTheLimit_Accepted()
    {
        using SafetensorsFile f = Opens(Hostile.LongName(SafetensorsHeader.MaxNameBytes));
        Assert.Equal(SafetensorsHeader.MaxNameBytes, f.Tensors[0].Name.Length);
    }

    [Fact]
    public void Open_EscapedNameOverTheLimitOnceUnescaped_NameTooLong()
    {
        // 342 × "é" written as \u00e9: 2052 bytes of JSON, 684 once unescaped: accepted; 600 of them (1200 bytes): refused.
        string Name(int n) => string.Concat(Enumerable.Repeat("\\u00e9", n));
        Assert.Equal(SafetensorsError.NameTooLong,
            Fails(Synthetic.Raw($"{{\"{Name(600)}\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}}}", 1)).Error.Error);
        using SafetensorsFile f = Opens(Synthetic.Raw($"{{\"{Name(342)}\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}}}", 1));
        Assert.Equal(new string('é', 342), f.Tensors[0].Name);
    }

    [Theory]
    [InlineData("{\"a\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")]
    [InlineData("{\"a\":{\"dtype\":\"U\\ud800\",\"shape\":[1],\"data_offsets\":[0,1]}}")]
    [InlineData("{\"a\":{\"x\\udc00\":1,\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")]
    [InlineData("{\"__metadata__\":{\"k\\udc00\":\"v\"},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")]
    [InlineData("{\"__metadata__\":{\"k\":\"v\\ud800x\"},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}")]
    public void Open_LoneSurrogateEscape_HeaderNotJson(string header)
    {
        var (e, _) = Fails(Synthetic.Raw(header, 1));
        Assert.Equal(SafetensorsError.HeaderNotJson, e.Error);
        Assert.Contains("lone UTF-16 surrogate", e.Message);
    }

    [Fact]
    public void Open_SurrogatePairEscape_Accepted()
    {
        using SafetensorsFile f = Opens(Synthetic.Raw("{\"w\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        Assert.Equal("w😀", f.Tensors[0].Name);
    }

    [Fact]
    public void Open_ControlCharactersInName_MessageEscapesThem()
    {
        // A name that would turn the terminal red and start a new line, in an entry without dtype.
        var (e, _) = Fails(Synthetic.Raw("{\"\\u001b[31mred\\u001b[0m\\n\\u202e\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        Assert.Equal("\u001b[31mred\u001b[0m\n\u202e", e.Tensor);
        Assert.Contains("tensor '\\u001b[31mred\\u001b[0m\\n\\u202e': missing 'dtype'", e.Message);
    }

    [Fact]
    public void Open_200000DigitOffset_MessageCut()
    {
        var (e, _) = Fails(Synthetic.Raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0," + new string('9', 200_000) + "]}}", 1));
        Assert.Equal(SafetensorsError.InvalidTensorEntry, e.Error);
        Assert.Contains("'data_offsets' holds 9999999999", e.Message);
        Assert.Contains("(200000 bytes), not a non-negative integer", e.Message);
    }

    [Fact]
    public void Open_LongUnknownDType_MessageCut()
    {
        var (e, _) = Fails(Synthetic.Raw("{\"a\":{\"dtype\":\"" + new string('F', 100_000) + "\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        Assert.Equal(SafetensorsError.UnknownDType, e.Error);
        Assert.Contains("(100000 bytes)", e.Message);
    }

    [Theory]
    [InlineData("\"dtype\":\"U8\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1]", "'dtype' appears twice")]
    [InlineData("\"dtype\":\"U8\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,1]", "'shape' appears twice")]
    [InlineData("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"data_offsets\":[0,1]", "'data_offsets' appears twice")]
    [InlineData("\"dtype\":\"U8\",\"dty\\u0070e\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]", "'dtype' appears twice")]
    public void Open_DuplicateField_Refused(string fields, string expected)
    {
        var (e, _) = Fails(Synthetic.Raw("{\"a\":{" + fields + "}}", 1));
        Assert.Equal(SafetensorsError.InvalidTensorEntry, e.Error);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Open_DuplicateUnknownField_IgnoredAsTheReferenceDoes()
    {
        using SafetensorsFile f = Opens(Synthetic.Raw("{\"a\":{\"x\":1,\"x\":2,\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        Assert.Single(f.Tensors);
    }

    [Fact]
    public void Open_MetadataEntriesOverTheLimit_TooManyEntries()
    {
        var sb = new System.Text.StringBuilder("{\"__metadata__\":{");
        for (int i = 0; i <= SafetensorsHeader.MaxEntries; i++) sb.Append(i == 0 ? "" : ",").Append("\"k").Append(i).Append("\":\"\"");
        var e = FailsWithinItsHeader(Synthetic.Raw(sb.Append("}}").ToString()), SafetensorsError.TooManyEntries);
        Assert.Contains("'__metadata__' holds more than 1,000,000 entries", e.Message);
    }
}
