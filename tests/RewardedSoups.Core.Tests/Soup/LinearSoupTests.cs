using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;
using RewardedSoups.Soup;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Soup;

public sealed class LinearSoupTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Model(string name, int seed, DType dtype, long step = 7) =>
        Synthetic.Write(_dir.File(name), Synthetic.Model(seed, dtype, step), new Dictionary<string, string> { ["format"] = "pt", ["seed"] = seed.ToString() });

    private static float[] Tensor(string path, string name)
    {
        using Checkpoint c = Checkpoint.Open(path);
        Assert.True(c.TryGet(name, out CheckpointTensor t));
        return Synthetic.Decode(t.DType, t.File.ReadAll(t.Info));
    }

    [Theory]
    [InlineData(DType.F32, 1e-6)]
    [InlineData(DType.F64, 1e-6)]
    [InlineData(DType.F16, 1e-3)]
    [InlineData(DType.BF16, 8e-3)]
    public void Merge_ThreeInputs_EqualsWeightedSumWithinOneRounding(DType dtype, double relative)
    {
        string a = Model("a.safetensors", 1, dtype), b = Model("b.safetensors", 2, dtype), c = Model("c.safetensors", 3, dtype);
        string output = _dir.File("soup.safetensors");
        SoupWeights w = [0.2, 0.3, 0.5];
        StreamingMerge.Merge(new SoupRequest([a, b, c], w, output));
        foreach (string name in new[] { "actor_mean.0.weight", "actor_mean.2.weight", "scalar" })
        {
            float[] x = Tensor(a, name), y = Tensor(b, name), z = Tensor(c, name), s = Tensor(output, name);
            for (int i = 0; i < s.Length; i++)
            {
                double exact = w[0] * x[i] + w[1] * y[i] + w[2] * z[i];
                double scale = Math.Abs(w[0] * x[i]) + Math.Abs(w[1] * y[i]) + Math.Abs(w[2] * z[i]);
                Assert.True(Math.Abs(s[i] - exact) <= relative * scale + 1e-30, $"{name}[{i}]: {s[i]} vs {exact}");
            }
        }
    }

    [Fact]
    public void Merge_BF16_RoundsTheFloat32SumOnce()
    {
        string a = Model("a.safetensors", 1, DType.BF16), b = Model("b.safetensors", 2, DType.BF16);
        string output = _dir.File("soup.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b], [0.25, 0.75], output));
        float[] x = Tensor(a, "actor_mean.0.weight"), y = Tensor(b, "actor_mean.0.weight"), s = Tensor(output, "actor_mean.0.weight");
        int off = 0;
        for (int i = 0; i < s.Length; i++)
        {
            float expected = BFloat16.ToSingle(BFloat16.FromSingle(0.25f * x[i] + 0.75f * y[i]));
            if (s[i] != expected) off++;
        }
        Assert.Equal(0, off);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F64)]
    [InlineData(DType.F8E4M3)]
    [InlineData(DType.F8E5M2)]
    public void Merge_OneHotWeights_ReproducesThatInputByteForByte(DType dtype)
    {
        var model = Synthetic.Model(2, dtype);
        // Awkward values in the chosen input: −0 and NaN; and an infinity in an input weighted 0.
        byte[] special = Synthetic.Encode(dtype, [-0f, float.NaN, 1f]);
        model[0].Data[..special.Length].AsSpan().CopyTo(model[0].Data);
        special.CopyTo(model[0].Data, 0);
        string b = Synthetic.Write(_dir.File("b.safetensors"), model);
        var other = Synthetic.Model(1, dtype);
        if (dtype is not DType.F8E4M3) Synthetic.Encode(dtype, [float.PositiveInfinity]).CopyTo(other[0].Data, 0);
        string a = Synthetic.Write(_dir.File("a.safetensors"), other);
        string c = Model("c.safetensors", 3, dtype);
        string output = _dir.File("soup.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b, c], [0, 1, 0], output));
        using SafetensorsFile input = SafetensorsFile.Open(b), soup = SafetensorsFile.Open(output);
        foreach (TensorInfo t in input.Tensors) Assert.Equal(input.ReadAll(t), soup.ReadAll(t.Name));
    }

    [Fact]
    public void Merge_ZeroWeightInputHoldingInfinity_DoesNotPoisonTheSoup()
    {
        var poisoned = Synthetic.Model(1, DType.F32);
        Synthetic.Encode(DType.F32, [float.PositiveInfinity]).CopyTo(poisoned[0].Data, 0);
        string a = Synthetic.Write(_dir.File("a.safetensors"), poisoned);
        string b = Model("b.safetensors", 2, DType.F32), c = Model("c.safetensors", 3, DType.F32);
        string output = _dir.File("soup.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b, c], [0, 0.5, 0.5], output));
        Assert.All(Tensor(output, "actor_mean.0.weight"), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Merge_NonFloatingTensorsEqual_Copied()
    {
        string a = Model("a.safetensors", 1, DType.F32, step: 42), b = Model("b.safetensors", 2, DType.F32, step: 42);
        string output = _dir.File("soup.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b], null, output));
        using SafetensorsFile soup = SafetensorsFile.Open(output);
        Assert.Equal(42L, BitConverter.ToInt64(soup.ReadAll("global_step")));
    }

    [Fact]
    public void Merge_NonFloatingTensorsDiffer_ErrorNamesTensorAndFilesAndWritesNothing()
    {
        string a = Model("a.safetensors", 1, DType.F32, step: 42), b = Model("b.safetensors", 2, DType.F32, step: 43);
        string output = _dir.File("soup.safetensors");
        File.WriteAllText(output, "an earlier soup");
        var e = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([a, b], null, output)));
        Assert.Contains("tensor 'global_step' (I64, not floating) differs between", e.Message);
        Assert.Contains("a.safetensors and", e.Message);
        Assert.Contains("b.safetensors", e.Message);
        Assert.Equal("an earlier soup", File.ReadAllText(output));
        Assert.Equal(["a.safetensors", "b.safetensors", "soup.safetensors"], _dir.Entries());
    }

    [Fact]
    public void Merge_ShapeMismatch_NamesTensorAndFiles()
    {
        string a = Model("a.safetensors", 1, DType.F32);
        var model = Synthetic.Model(2, DType.F32);
        model[0] = (new TensorSpec("actor_mean.0.weight", DType.F32, [16, 8]), new byte[16 * 8 * 4]);
        string b = Synthetic.Write(_dir.File("b.safetensors"), model);
        var e = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([a, b], null, _dir.File("o.safetensors"))));
        Assert.Equal($"tensor 'actor_mean.0.weight': shape [16, 7] in {a} but [16, 8] in {b}", e.Message);
        Assert.Equal(["a.safetensors", "b.safetensors"], _dir.Entries());
    }

    [Fact]
    public void Merge_DTypeMismatch_NamesTensorAndFiles()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 1, DType.BF16);
        var e = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([a, b], null, _dir.File("o.safetensors"))));
        Assert.Equal($"tensor 'actor_mean.0.weight': dtype F32 in {a} but BF16 in {b}", e.Message);
    }

    [Fact]
    public void Merge_MissingTensor_NamesTensorAndFilesEitherWay()
    {
        string a = Model("a.safetensors", 1, DType.F32);
        string b = Synthetic.Write(_dir.File("b.safetensors"), Synthetic.Model(2, DType.F32).Where(t => t.Spec.Name != "actor_logstd").ToArray());
        var e1 = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([a, b], null, _dir.File("o.safetensors"))));
        Assert.Equal($"tensor 'actor_logstd' is in {a} but not in {b}", e1.Message);
        var e2 = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([b, a], null, _dir.File("o.safetensors"))));
        Assert.Equal($"tensor 'actor_logstd' is in {a} but not in {b}", e2.Message);
    }

    [Theory]
    [InlineData(new[] { 1.0 }, "1 given for 2 inputs")]
    [InlineData(new[] { 0.5, double.NaN }, "weight 2 is NaN; weights must be finite")]
    [InlineData(new[] { 1.5, -0.5 }, "weight 2 is -0.5; weights must be non-negative")]
    [InlineData(new[] { 0.5, 0.4 }, "sum to 0.9")]
    [InlineData(new[] { 0.5, double.PositiveInfinity }, "must be finite")]
    public void Merge_InvalidWeights_RejectedBeforeReadingAnything(double[] weights, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([_dir.File("x"), _dir.File("y")], SoupWeights.Of(weights), _dir.File("o.safetensors"))));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Merge_WeightsSumWithinTolerance_Accepted()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 2, DType.F32);
        StreamingMerge.Merge(new SoupRequest([a, b], [0.3, 0.7 + 5e-7], _dir.File("o.safetensors")));
        Assert.True(File.Exists(_dir.File("o.safetensors")));
    }

    [Fact]
    public void Merge_Extrapolation_AllowedOnlyWhenAskedAndRecorded()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 2, DType.F32);
        string output = _dir.File("task-arithmetic.safetensors");
        SoupResult result = StreamingMerge.Merge(new SoupRequest([a, b], SoupWeights.Of([1.5, -0.5], allowExtrapolation: true), output));
        Assert.Equal("true", result.Metadata["soup.allow_extrapolation"]);
        Assert.Equal("true", result.Metadata["soup.extrapolated"]);
        float[] x = Tensor(a, "actor_logstd"), y = Tensor(b, "actor_logstd"), s = Tensor(output, "actor_logstd");
        for (int i = 0; i < s.Length; i++) Assert.Equal(1.5 * x[i] - 0.5 * y[i], s[i], 1e-5);
    }

    [Fact]
    public void Merge_Metadata_RecordsInputsHashesWeightsAndKeepsSharedEntries()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 2, DType.F32);
        string output = _dir.File("soup.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b], [0.25, 0.75], output));
        using SafetensorsFile soup = SafetensorsFile.Open(output);
        using Checkpoint ca = Checkpoint.Open(a);
        IReadOnlyDictionary<string, string> m = soup.Metadata;
        Assert.Equal("pt", m["format"]);                 // shared by both inputs: kept
        Assert.False(m.ContainsKey("seed"));             // differs between inputs: dropped
        Assert.Equal("linear", m["soup.method"]);
        Assert.Equal("[0.25,0.75]", m["soup.weights"]);
        Assert.Equal("false", m["soup.allow_extrapolation"]);
        using JsonDocument inputs = JsonDocument.Parse(m["soup.inputs"]);
        Assert.Equal(a, inputs.RootElement[0].GetProperty("path").GetString());
        Assert.Equal(ca.HeaderSha256, inputs.RootElement[0].GetProperty("header_sha256").GetString());
        Assert.Equal(64, ca.HeaderSha256.Length);
    }

    [Fact]
    public void Merge_OutputDType_ConvertsFloatingTensorsOnly()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 2, DType.F32);
        string output = _dir.File("soup.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, b], [0.5, 0.5], output, OutputDType: DType.BF16));
        using SafetensorsFile soup = SafetensorsFile.Open(output);
        Assert.Equal(DType.BF16, soup.Header.ByName["actor_mean.0.weight"].DType);
        Assert.Equal(DType.I64, soup.Header.ByName["global_step"].DType);
        float[] x = Tensor(a, "actor_mean.0.bias"), y = Tensor(b, "actor_mean.0.bias"), s = Tensor(output, "actor_mean.0.bias");
        for (int i = 0; i < s.Length; i++) Assert.Equal(BFloat16.ToSingle(BFloat16.FromSingle(0.5f * x[i] + 0.5f * y[i])), s[i]);
    }

    [Fact]
    public void Merge_IntegerOutputDType_Rejected()
    {
        var e = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([_dir.File("x")], null, _dir.File("o.safetensors"), OutputDType: DType.I32)));
        Assert.Contains("I32 is not a floating dtype", e.Message);
    }

    [Fact]
    public void Merge_ShardedOutput_SameTensorsAsSingleFile()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 2, DType.F32);
        string single = _dir.File("single.safetensors");
        string folder = _dir.File("sharded");
        StreamingMerge.Merge(new SoupRequest([a, b], [0.4, 0.6], single));
        SoupResult result = StreamingMerge.Merge(new SoupRequest([a, b], [0.4, 0.6], folder, MaxShardBytes: 200));
        Assert.True(result.Shards.Count > 2);
        Assert.True(File.Exists(Path.Combine(folder, Checkpoint.IndexFileName)));
        using Checkpoint s1 = Checkpoint.Open(single), s2 = Checkpoint.Open(folder);
        Assert.Equal(result.Shards.Count, s2.Files.Count);
        // Each shard holds at most 200 tensor bytes, unless one tensor alone is larger.
        foreach (SafetensorsFile shard in s2.Files)
            Assert.True(shard.Header.DataBytes <= 200 || shard.Tensors.Count == 1, $"{shard.Path}: {shard.Header.DataBytes} bytes");
        Assert.Equal(s1.Tensors.Select(t => t.Name), s2.Tensors.Select(t => t.Name));
        foreach (CheckpointTensor t in s1.Tensors)
        {
            Assert.True(s2.TryGet(t.Name, out CheckpointTensor u));
            Assert.Equal(t.File.ReadAll(t.Info), u.File.ReadAll(u.Info));
        }
    }

    [Fact]
    public void Merge_ShardedAndSingleInputsOfOneModel_Mix()
    {
        string a = Model("a.safetensors", 1, DType.BF16), b = Model("b.safetensors", 2, DType.BF16);
        string shardedB = _dir.File("b-sharded");
        StreamingMerge.Merge(new SoupRequest([b], null, shardedB, MaxShardBytes: 200));
        string viaFolder = _dir.File("via-folder.safetensors"), viaFile = _dir.File("via-file.safetensors");
        StreamingMerge.Merge(new SoupRequest([a, shardedB], [0.5, 0.5], viaFolder));
        StreamingMerge.Merge(new SoupRequest([a, b], [0.5, 0.5], viaFile));
        using SafetensorsFile f1 = SafetensorsFile.Open(viaFolder), f2 = SafetensorsFile.Open(viaFile);
        foreach (TensorInfo t in f2.Tensors) Assert.Equal(f2.ReadAll(t), f1.ReadAll(t.Name));
    }

    [Fact]
    public void Merge_ExistingOutputFolder_RefusedUnlessOverwrite()
    {
        string a = Model("a.safetensors", 1, DType.F32);
        string folder = _dir.File("out");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "keep.txt"), "mine");
        var e = Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(new SoupRequest([a], null, folder)));
        Assert.Contains("--overwrite", e.Message);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(folder, "keep.txt")));
        StreamingMerge.Merge(new SoupRequest([a], null, folder, Overwrite: true));
        Assert.Equal([Checkpoint.SingleFileName], Directory.GetFiles(folder).Select(Path.GetFileName));
        Assert.Equal(["a.safetensors", "out"], _dir.Entries());
    }

    [Fact]
    public void Merge_Cancelled_LeavesNothing()
    {
        string a = Model("a.safetensors", 1, DType.F32), b = Model("b.safetensors", 2, DType.F32);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => StreamingMerge.Merge(new SoupRequest([a, b], null, _dir.File("o.safetensors")), null, cancel.Token));
        Assert.Equal(["a.safetensors", "b.safetensors"], _dir.Entries());
    }
}

/// <summary>Allocation counters are process-wide: this runs alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestsCollection;

[Collection(nameof(MemoryTests))]
public sealed class MemoryTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Merge_LargerModel_ManagedMemoryDoesNotGrowWithModelSize() => MeasureAllocations(_dir);

    internal static void MeasureAllocations(TempDir dir)
    {
        int attempt = 0;
        long Allocated(int megabytes)
        {
            attempt++;
            var random = new Random(megabytes);
            string[] inputs = Enumerable.Range(0, 3).Select(k =>
            {
                var data = new byte[megabytes << 20];
                var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan());
                for (int i = 0; i < floats.Length; i += 97) floats[i] = (float)random.NextDouble();
                return Synthetic.Write(dir.File($"m{megabytes}-{k}-{attempt}.safetensors"),
                    [(new TensorSpec("big", DType.F32, [megabytes << 18]), data), (new TensorSpec("small", DType.F32, [3]), new byte[12])]);
            }).ToArray();
            GC.Collect();
            long before = GC.GetTotalAllocatedBytes(precise: true);
            StreamingMerge.Merge(new SoupRequest(inputs, null, dir.File($"soup{megabytes}-{attempt}.safetensors"), Threads: 2));
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            foreach (string file in inputs.Append(dir.File($"soup{megabytes}-{attempt}.safetensors"))) File.Delete(file);
            return allocated;
        }
        // The counter is process-wide: whatever else the process does meanwhile (a thread-pool task another
        // test left, tiered JIT compilation) only adds to it, and adds more to the longer merge on a loaded
        // machine (seen once in ./test.sh: 5 MiB vs 10 MiB). So the least of three attempts is the merge's
        // own; a merge whose buffers grew with the model grows in every attempt.
        var attempts = Enumerable.Range(0, 3).Select(_ => (Small: Allocated(8), Large: Allocated(64))).ToList();
        (long small, long large) = attempts.MinBy(a => a.Large - a.Small);
        // 8× the model, yet the same buffers: only per-chunk bookkeeping may grow.
        Assert.True(large - small < 4 << 20, $"8 MiB model allocated {small >> 10} KiB, 64 MiB model {large >> 10} KiB (least growth of 3 attempts)");
        Assert.True(attempts.Min(a => a.Large) < 40 << 20, $"64 MiB model allocated {attempts.Min(a => a.Large) >> 20} MiB");
    }
}
