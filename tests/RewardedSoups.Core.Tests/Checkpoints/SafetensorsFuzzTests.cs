using System.Text;
using CsCheck;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Checkpoints;

/// <summary>
/// The parser under hostile input: it must fail only with its own error, never with another
/// exception, and never allocate from an untrusted number (the header length is checked against the
/// file's length before the one allocation it decides).
/// </summary>
public sealed class SafetensorsFuzzTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] DTypeNames = ["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "F4", "", "f32"];

    /// <summary>Headers built from plausible and implausible pieces: names, dtypes, shapes, offsets, metadata.</summary>
    private static readonly Gen<string> Headers =
        Gen.Select(
            Gen.Int[0, 4],
            Gen.Select(Gen.OneOf("a", "b", "a", "__metadata__", "w.0", "\\u00e9"),
                       Gen.OneOf(DTypeNames),
                       Gen.Long[-2, 9].Array[0, 3],
                       Gen.Long[-1, 40].Array[0, 3],
                       Gen.Bool).Array[0, 4])
        .Select((form, entries) =>
        {
            var sb = new StringBuilder("{");
            for (int i = 0; i < entries.Length; i++)
            {
                var (name, dtype, shape, offsets, quoted) = entries[i];
                if (i > 0) sb.Append(',');
                sb.Append('"').Append(name).Append("\":");
                if (name == "__metadata__") sb.Append(quoted ? "{\"k\":\"v\"}" : "{\"k\":3}");
                else sb.Append("{\"dtype\":").Append(quoted ? $"\"{dtype}\"" : "7")
                        .Append(",\"shape\":[").Append(string.Join(",", shape)).Append(']')
                        .Append(",\"data_offsets\":[").Append(string.Join(",", offsets)).Append("]}");
            }
            sb.Append('}');
            return form switch
            {
                0 => sb.ToString(),
                1 => sb.ToString() + "    ",
                2 => sb.ToString()[..Math.Max(0, sb.Length - 1)],
                3 => " " + sb,
                _ => sb.ToString() + "x",
            };
        });

    [Fact]
    public void Parse_GeneratedHeaders_SucceedsOrThrowsOwnError()
    {
        Gen.Select(Headers, Gen.Int[0, 64]).Sample((header, dataBytes) =>
        {
            byte[] json = Encoding.UTF8.GetBytes(header);
            try
            {
                SafetensorsHeader h = SafetensorsHeader.Parse(json, dataBytes, "f");
                // Accepted: then the tensors tile the data section exactly.
                long end = 0;
                foreach (TensorInfo t in h.Tensors)
                {
                    Assert.Equal(end, t.Begin);
                    Assert.Equal(TensorInfo.CheckedElementCount(t.Shape) * t.DType.Size(), t.ByteLength);
                    end = t.End;
                }
                Assert.Equal(dataBytes, end);
            }
            catch (SafetensorsFormatException e)
            {
                Assert.StartsWith("f: ", e.Message);
                Assert.DoesNotContain('\n', e.Message);
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Parse_RandomBytes_SucceedsOrThrowsOwnError()
    {
        Gen.Byte.Array[0, 80].Sample(bytes =>
        {
            try { SafetensorsHeader.Parse(bytes, 0, "f"); }
            catch (SafetensorsFormatException) { }
        }, iter: 20_000);
    }

    [Fact]
    public void Open_MutatedValidFile_SucceedsOrThrowsOwnError()
    {
        byte[] valid = File.ReadAllBytes(Synthetic.Write(_dir.File("valid.safetensors"), Synthetic.Model(1, DType.BF16)));
        string path = _dir.File("mutant.safetensors");
        Gen.Select(Gen.Int[0, valid.Length - 1].Array[1, 4], Gen.Byte.Array[4], Gen.Int[0, valid.Length]).Sample((positions, values, keep) =>
        {
            byte[] mutant = valid[..keep];
            for (int i = 0; i < positions.Length; i++)
                if (positions[i] < mutant.Length) mutant[positions[i]] = values[i];
            File.WriteAllBytes(path, mutant);
            try
            {
                using SafetensorsFile f = SafetensorsFile.Open(path);
                foreach (TensorInfo t in f.Tensors) f.ReadAll(t);
            }
            catch (SafetensorsFormatException) { }
        }, iter: 1_000, threads: 1); // one file, rewritten each iteration: one thread
    }

    [Fact]
    public void Open_AnyLengthField_NeverAllocatesBeyondTheFile()
    {
        string path = _dir.File("len.safetensors");
        Gen.ULong.Sample(length =>
        {
            File.WriteAllBytes(path, Synthetic.Raw("{}      ", length: length));
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { SafetensorsFile.Open(path).Dispose(); }
            catch (SafetensorsFormatException) { }
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, $"length {length} made the parser allocate");
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Write_RandomModels_ReadBackIdentical()
    {
        var tensorGen = Gen.Select(Gen.OneOf(DTypes.All.ToArray()), Gen.Long[0, 5].Array[0, 3], Gen.Int[0, 1000]);
        string path = _dir.File("rt.safetensors");
        tensorGen.Array[0, 6].Sample(specs =>
        {
            var random = new Random(specs.Length);
            var tensors = specs.Select((s, i) =>
            {
                var spec = new TensorSpec($"t{i}.{s.Item3}", s.Item1, s.Item2);
                var data = new byte[spec.ByteLength];
                random.NextBytes(data);
                return (spec, data);
            }).ToArray();
            Synthetic.Write(path, tensors, new Dictionary<string, string> { ["n"] = specs.Length.ToString() });
            using SafetensorsFile f = SafetensorsFile.Open(path);
            Assert.Equal(tensors.Select(t => t.spec.Name), f.Tensors.Select(t => t.Name));
            foreach ((TensorSpec spec, byte[] data) in tensors)
            {
                Assert.Equal(spec.Shape, f.Header.ByName[spec.Name].Shape);
                Assert.Equal(data, f.ReadAll(spec.Name));
            }
        }, iter: 200, threads: 1);
    }
}
