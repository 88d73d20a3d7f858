using System.Buffers.Binary;
using System.Text;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Checkpoints;

public sealed class SafetensorsFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private SafetensorsFormatException Fails(byte[] bytes, string name = "bad.safetensors")
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void Open_FileShorterThanLengthField_FileTooSmall()
    {
        Assert.Equal(SafetensorsError.FileTooSmall, Fails([1, 2, 3]).Error);
        Assert.Equal(SafetensorsError.FileTooSmall, Fails([]).Error);
    }

    [Fact]
    public void Open_HeaderLongerThanLimit_HeaderTooLarge()
    {
        var e = Fails(Synthetic.Raw("{}", length: SafetensorsHeader.MaxHeaderBytes + 1));
        Assert.Equal(SafetensorsError.HeaderTooLarge, e.Error);
        Assert.Contains("100000001", e.Message);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1000UL)]
    [InlineData(3UL)]
    public void Open_HeaderLengthPastEnd_RejectedWithoutAllocating(ulong length)
    {
        var e = Fails(Synthetic.Raw("{}", length: length));
        Assert.True(e.Error is SafetensorsError.HeaderPastEndOfFile or SafetensorsError.HeaderTooLarge or SafetensorsError.HeaderNotJson, e.Message);
    }

    [Fact]
    public void Open_InvalidUtf8_HeaderNotUtf8()
    {
        byte[] bytes = Synthetic.Raw("{\"a\":1}  ");
        bytes[10] = 0xFF;
        Assert.Equal(SafetensorsError.HeaderNotUtf8, Fails(bytes).Error);
    }

    [Theory]
    [InlineData(" {}      ")]
    [InlineData("[]      ")]
    [InlineData("null    ")]
    public void Open_HeaderNotStartingWithBrace_HeaderNotObject(string header) =>
        Assert.Equal(SafetensorsError.HeaderNotObject, Fails(Synthetic.Raw(header)).Error);

    [Theory]
    [InlineData("{\"a\": }")]
    [InlineData("{}x")]
    [InlineData("{}{}")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[[[[[[[[[[1]]]]]]]]]],\"data_offsets\":[0,4]}}")]
    public void Open_MalformedJson_HeaderNotJson(string header)
    {
        var e = Fails(Synthetic.Raw(header, dataBytes: 4));
        Assert.True(e.Error is SafetensorsError.HeaderNotJson or SafetensorsError.InvalidTensorEntry, e.Error + ": " + e.Message);
    }

    [Fact]
    public void Open_DuplicateName_NamesTensor()
    {
        var e = Fails(Synthetic.Raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", dataBytes: 2));
        Assert.Equal(SafetensorsError.DuplicateTensor, e.Error);
        Assert.Equal("w", e.Tensor);
        Assert.Contains("tensor 'w'", e.Message);
    }

    [Theory]
    [InlineData("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "missing 'dtype'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing 'shape'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "missing 'data_offsets'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "-1")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "1.5")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "3 numbers")]
    [InlineData("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", "'dtype' is not a string")]
    [InlineData("{\"w\":[1,2]}", "not an object")]
    public void Open_BadTensorEntry_InvalidTensorEntryNamesField(string header, string expected)
    {
        var e = Fails(Synthetic.Raw(header, dataBytes: 4));
        Assert.Equal(SafetensorsError.InvalidTensorEntry, e.Error);
        Assert.Equal("w", e.Tensor);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Open_UnknownDType_ListsValidOnes()
    {
        var e = Fails(Synthetic.Raw("{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", dataBytes: 1));
        Assert.Equal(SafetensorsError.UnknownDType, e.Error);
        Assert.Contains("'F4'", e.Message);
        Assert.Contains("BF16", e.Message);
    }

    [Theory]
    [InlineData("{\"__metadata__\":{\"a\":1}}")]
    [InlineData("{\"__metadata__\":[\"a\"]}")]
    public void Open_MetadataNotStrings_InvalidMetadata(string header) =>
        Assert.Equal(SafetensorsError.InvalidMetadata, Fails(Synthetic.Raw(header)).Error);

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap")]
    public void Open_OffsetsNotContiguous_NonContiguousOffsets(string header, int dataBytes, string expected)
    {
        var e = Fails(Synthetic.Raw(header, dataBytes));
        Assert.Equal(SafetensorsError.NonContiguousOffsets, e.Error);
        Assert.NotNull(e.Tensor);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Open_ShapeOverflows_SizeOverflow()
    {
        var e = Fails(Synthetic.Raw("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8));
        Assert.Equal(SafetensorsError.SizeOverflow, e.Error);
        Assert.Equal("a", e.Tensor);
    }

    [Fact]
    public void Open_ByteLengthDiffersFromShape_SizeMismatch()
    {
        var e = Fails(Synthetic.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12));
        Assert.Equal(SafetensorsError.SizeMismatch, e.Error);
        Assert.Contains("hold 12 bytes but shape [2, 2] of F32 needs 16", e.Message);
    }

    [Fact]
    public void Open_TruncatedData_DataPastEndOfFile()
    {
        var e = Fails(Synthetic.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 9));
        Assert.Equal(SafetensorsError.DataPastEndOfFile, e.Error);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Open_BytesAfterLastTensor_TrailingBytes()
    {
        var e = Fails(Synthetic.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 20));
        Assert.Equal(SafetensorsError.TrailingBytes, e.Error);
        Assert.Contains("4 bytes of trailing data", e.Message);
    }

    [Fact]
    public void Open_MissingFile_SaysNoSuchFile()
    {
        var e = Assert.Throws<SoupInputException>(() => SafetensorsFile.Open(_dir.File("absent.safetensors")));
        Assert.Contains("absent.safetensors: no such file", e.Message);
    }

    [Fact]
    public void Open_UnknownFieldsAndNullMetadata_AcceptedAsTheReferenceDoes()
    {
        string path = _dir.File("ok.safetensors");
        File.WriteAllBytes(path, Synthetic.Raw("{\"__metadata__\":null,\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3],\"extra\":{\"x\":[1]}}}   ", data: [1, 2, 3]));
        using SafetensorsFile f = SafetensorsFile.Open(path);
        Assert.Empty(f.Metadata);
        Assert.Equal(new byte[] { 1, 2, 3 }, f.ReadAll("a"));
    }

    [Fact]
    public void Open_ZeroSizedAndScalarTensors_Accepted()
    {
        string path = Synthetic.Write(_dir.File("z.safetensors"),
        [
            (new TensorSpec("empty", DType.F32, [0, 5]), []),
            (new TensorSpec("scalar", DType.F64, []), BitConverter.GetBytes(2.5)),
            (new TensorSpec("empty2", DType.I8, [3, 0]), []),
        ]);
        using SafetensorsFile f = SafetensorsFile.Open(path);
        Assert.Equal(3, f.Tensors.Count);
        Assert.Equal(2.5, BitConverter.ToDouble(f.ReadAll("scalar")));
        Assert.Equal(0, f.Header.ByName["empty"].ElementCount);
    }

    [Fact]
    public void Write_SingleTensor_ByteForByteTheReferenceLayout()
    {
        // What Python's safetensors.torch.save_file({"a": torch.zeros(2, 2)}) writes: compact JSON with
        // dtype, shape, data_offsets in that order, spaces to an 8-byte boundary, then the data.
        string path = Synthetic.Write(_dir.File("a.safetensors"), [(new TensorSpec("a", DType.F32, [2, 2]), new byte[16])]);
        byte[] bytes = File.ReadAllBytes(path);
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        int padded = (json.Length + 7) / 8 * 8;
        Assert.Equal((ulong)padded, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal(json + new string(' ', padded - json.Length), Encoding.UTF8.GetString(bytes, 8, padded));
        Assert.Equal(8 + padded + 16, bytes.Length);
    }

    [Fact]
    public void Write_MetadataFirstAndTensorsInGivenOrder_DataAligned()
    {
        string path = Synthetic.Write(_dir.File("m.safetensors"),
        [
            (new TensorSpec("z.bias", DType.F16, [3]), [1, 2, 3, 4, 5, 6]),
            (new TensorSpec("a.weight", DType.F32, [1]), [7, 8, 9, 10]),
        ], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "λ ünïcode" });
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + n) % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"λ ünïcode\"},\"z.bias\":", header);
        using SafetensorsFile f = SafetensorsFile.Open(path);
        Assert.Equal(["z.bias", "a.weight"], f.Tensors.Select(t => t.Name));
        Assert.Equal("λ ünïcode", f.Metadata["note"]);
        Assert.Equal(new byte[] { 7, 8, 9, 10 }, f.ReadAll("a.weight"));
    }

    [Fact]
    public void Write_EveryDType_RoundTrips()
    {
        var random = new Random(3);
        var tensors = DTypes.All.Select(d =>
        {
            long[] shape = [2, 3];
            byte[] data = new byte[6 * d.Size()];
            random.NextBytes(data);
            return (new TensorSpec("t_" + d.Name(), d, shape), data);
        }).ToArray();
        string path = Synthetic.Write(_dir.File("all.safetensors"), tensors);
        using SafetensorsFile f = SafetensorsFile.Open(path);
        foreach ((TensorSpec spec, byte[] data) in tensors)
        {
            TensorInfo info = f.Header.ByName[spec.Name];
            Assert.Equal(spec.DType, info.DType);
            Assert.Equal(spec.Shape, info.Shape);
            Assert.Equal(data, f.ReadAll(info));
        }
    }

    [Fact]
    public void WriteFile_Fails_LeavesNothingAtDestination()
    {
        string path = _dir.File("out.safetensors");
        File.WriteAllText(path, "previous content");
        // The data is shorter than the shape needs: the writer refuses before anything is renamed.
        Assert.ThrowsAny<ArgumentException>(() => SafetensorsWriter.WriteFile(path, [(new TensorSpec("a", DType.F32, [4]), new byte[8])]));
        Assert.Equal("previous content", File.ReadAllText(path));
        Assert.Equal(["out.safetensors"], _dir.Entries());
    }
}
