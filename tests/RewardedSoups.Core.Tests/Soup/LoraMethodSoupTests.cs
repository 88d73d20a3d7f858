using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Soup;

/// <summary>
/// Merge methods on LoRA adapters: each method's result on the adapters' ΔWᵢ = sᵢBᵢAᵢ, written as an adapter
/// whose B·A is that result; slerp on the whole weights W₀ + ΔWᵢ.
/// </summary>
public sealed class LoraMethodSoupTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const int In = LoraAdapters.In, Out = LoraAdapters.Out;
    private static readonly string[] Modules = LoraAdapters.Modules;

    private string Adapter(string name, int r, double alpha, int seed, bool rslora = false, bool fanInFanOut = false, bool plainTensor = false) =>
        LoraAdapters.Write(_dir.File(name), r, alpha, seed, rslora, fanInFanOut, plainTensor);

    /// <summary>The base model the adapters adapt: one weight per module, [out, in] (or [in, out] with fan_in_fan_out).</summary>
    private string BaseModel(bool fanInFanOut, int seed = 9)
    {
        var random = new Random(seed);
        var tensors = Modules.Select(m => (new TensorSpec($"{m}.weight", DType.F32, fanInFanOut ? [In, Out] : [Out, In]),
            Synthetic.Encode(DType.F32, Enumerable.Range(0, In * Out).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray()))).ToArray();
        return Synthetic.Write(_dir.File($"base-{fanInFanOut}.safetensors"), tensors);
    }

    /// <summary>s·B·A of a module of an adapter folder, in float64, laid out [out, in].</summary>
    private static double[] Delta(string folder, string module)
    {
        LoraConfig config = LoraSoup.ReadConfig(folder);
        using SafetensorsFile f = SafetensorsFile.Open(Path.Combine(folder, LoraSoup.ModelFile));
        float[] a = Synthetic.Decode(DType.F32, f.ReadAll($"base_model.model.{module}.lora_A.weight"));
        float[] b = Synthetic.Decode(DType.F32, f.ReadAll($"base_model.model.{module}.lora_B.weight"));
        int r = a.Length / In;
        var d = new double[Out * In];
        for (int o = 0; o < Out; o++)
            for (int i = 0; i < In; i++)
            {
                double sum = 0;
                for (int k = 0; k < r; k++) sum += (double)b[o * r + k] * a[k * In + i];
                d[o * In + i] = config.Scaling * sum;
            }
        return d;
    }

    private static float[] Transpose(float[] x, int rows, int columns)
    {
        var t = new float[x.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) t[c * rows + r] = x[r * columns + c];
        return t;
    }

    private static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<double> actual, double tolerance)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    public static TheoryData<string, string> TaskVectorMethods => new()
    {
        { "task_arithmetic", "{\"lambda\": 0.8, \"normalize\": true}" },
        { "ties", "{\"density\": 0.5}" },
        { "dare_linear", "{\"density\": 0.6, \"seed\": 3}" },
        { "dare_ties", "{\"density\": 0.5, \"seed\": 4}" },
    };

    [Theory]
    [MemberData(nameof(TaskVectorMethods))]
    public void TaskVectorMethod_OnAdapters_IsTheMethodOnEachModulesDeltas(string name, string parametersJson)
    {
        IMergeMethod method = MergeMethods.Get(name);
        ISettingsSection parameters = MergeMethods.ReadParameters(method, (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(parametersJson)!, new ConfigReader("test"), name);
        string a = Adapter("a", r: 1, alpha: 2, seed: 1), b = Adapter("b", r: 2, alpha: 3, seed: 2, rslora: true);
        string output = _dir.File("soup");
        SoupResult result = LoraMethodSoup.Merge([a, b], [0.3, 0.7], output, method, parameters);

        LoraConfig config = LoraSoup.ReadConfig(output);
        Assert.Equal(name == "task_arithmetic" ? 3 : Math.Min(In, Out), config.Rank);   // Σ rᵢ, or the dense ΔW's exact factorisation
        Assert.Equal(1.0, config.Scaling);
        Assert.Equal(name, result.Metadata["soup.method"]);
        Assert.Equal("false", result.Metadata["soup.allow_extrapolation"]);
        var merge = new MemoryMerge(2, [0.3, 0.7], method, parameters, hasBase: true);
        foreach (string m in Modules)
        {
            float[][] deltas = [Delta(a, m).Select(x => (float)x).ToArray(), Delta(b, m).Select(x => (float)x).ToArray()];
            var expected = new float[In * Out];
            merge.Tensor($"{m}.weight", deltas, new float[In * Out], expected);
            AssertClose(expected, Delta(output, m), 1e-5);
        }
        if (name == "ties")
        {
            // Trimming to half of each ΔW and sign election change the result: it is not task arithmetic's.
            double[] plain = Delta(a, Modules[0]).Zip(Delta(b, Modules[0]), (x, y) => 0.3 * x + 0.7 * y).ToArray();
            Assert.True(Delta(output, Modules[0]).Zip(plain, (x, y) => Math.Abs(x - y)).Max() > 1e-3);
        }
    }

    [Fact]
    public void Ties_InputsAndWeightsPermutedTogether_SameAdapter()
    {
        IMergeMethod ties = MergeMethods.Get("ties");
        var p = new TiesParameters { Density = 0.4 };
        string a = Adapter("a", 2, 4, 1), b = Adapter("b", 3, 6, 2), c = Adapter("c", 1, 1, 3);
        LoraMethodSoup.Merge([a, b, c], [0.2, 0.5, 0.3], _dir.File("abc"), ties, p);
        LoraMethodSoup.Merge([c, a, b], [0.3, 0.2, 0.5], _dir.File("cab"), ties, p);
        foreach (string m in Modules) Assert.Equal(Delta(_dir.File("abc"), m), Delta(_dir.File("cab"), m));
    }

    [Fact]
    public void DareTies_OnAdapters_SameSeedSameBytes_OtherSeedOtherDrops()
    {
        string a = Adapter("a", 2, 4, 1, fanInFanOut: true), b = Adapter("b", 2, 4, 2, fanInFanOut: true);
        IMergeMethod dareTies = MergeMethods.Get("dare_ties");
        byte[] Soup(string name, long seed)
        {
            LoraMethodSoup.Merge([a, b], [0.4, 0.6], _dir.File(name), dareTies, new DareParameters { Density = 0.5, Seed = seed });
            return File.ReadAllBytes(Path.Combine(_dir.File(name), LoraSoup.ModelFile));
        }
        byte[] one = Soup("one", 5);
        Assert.Equal(one, Soup("again", 5));
        Assert.NotEqual(one, Soup("other", 6));
        double[] kept = Delta(_dir.File("one"), Modules[0]);
        Assert.InRange(kept.Count(x => x == 0) / (double)kept.Length, 0.05, 0.6);   // both dropped: about a quarter of the elements
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Slerp_OnAdapters_InterpolatesTheWholeWeights_AndWritesTheirDifferenceToTheBase(bool fanInFanOut)
    {
        string baseModel = BaseModel(fanInFanOut);
        string a = Adapter("a", 2, 4, 1, fanInFanOut: fanInFanOut), b = Adapter("b", 3, 3, 2, fanInFanOut: fanInFanOut);
        IMergeMethod slerp = MergeMethods.Get("slerp");
        SoupResult result = LoraMethodSoup.Merge([a, b], [0.25, 0.75], _dir.File("soup"), slerp, slerp.DefaultParameters, baseModel);
        Assert.Contains("\"path\"", result.Metadata["soup.base"]);
        using Checkpoint w0 = Checkpoint.Open(baseModel);
        var merge = new MemoryMerge(2, [0.25, 0.75], slerp, slerp.DefaultParameters);
        foreach (string m in Modules)
        {
            w0.TryGet($"{m}.weight", out CheckpointTensor t);
            float[] baseWeight = t.File.ReadSingles(t.Info);
            float[] Layout(double[] outIn) { float[] f = outIn.Select(x => (float)x).ToArray(); return fanInFanOut ? Transpose(f, Out, In) : f; }
            float[][] experts = [.. new[] { a, b }.Select(x => Layout(Delta(x, m)).Zip(baseWeight, (d, w) => d + w).ToArray())];
            var merged = new float[In * Out];
            merge.Tensor($"{m}.weight", experts, null, merged);
            AssertClose(merged.Zip(baseWeight, (x, w) => x - w).ToArray(), Layout(Delta(_dir.File("soup"), m)).Select(x => (double)x).ToList(), 1e-5);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MergeInto_FoldsTheSoupIntoTheBase_CopiesTheRestAndTheFolderFiles(bool prefixed)
    {
        // A Hugging Face folder: the weights (with or without the head model's "transformer." prefix), one tensor no
        // adapter touches, config.json and a tokenizer file.
        string baseFolder = _dir.File("base-model");
        Directory.CreateDirectory(baseFolder);
        var random = new Random(4);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        string Key(string m) => prefixed ? m : m["transformer.".Length..];
        var tensors = Modules.Select(m => (new TensorSpec($"{Key(m)}.weight", DType.F32, [Out, In]), Synthetic.Encode(DType.F32, Random(In * Out))))
            .Append((new TensorSpec("wte.weight", DType.F32, [3, 2]), Synthetic.Encode(DType.F32, Random(6)))).ToArray();
        Synthetic.Write(Path.Combine(baseFolder, Checkpoint.SingleFileName), tensors);
        File.WriteAllText(Path.Combine(baseFolder, "config.json"), "{\"model_type\": \"gpt2\"}");
        File.WriteAllText(Path.Combine(baseFolder, "tokenizer.json"), "{}");
        File.WriteAllText(Path.Combine(baseFolder, "pytorch_model.bin"), "the base's weights in another format");
        File.WriteAllText(_dir.File("blob"), "{\"max_length\": 8}");   // a Hugging Face cache links its files to blobs
        File.CreateSymbolicLink(Path.Combine(baseFolder, "generation_config.json"), _dir.File("blob"));

        string a = Adapter("a", 2, 4, 1), b = Adapter("b", 3, 3, 2);
        string adapter = _dir.File("soup-adapter");
        SoupResult soup = LoraSoup.Merge([a, b], [0.3, 0.7], adapter, LoraMode.Delta);
        string output = _dir.File("full");
        SoupResult full = LoraMethodSoup.MergeInto(adapter, baseFolder, output, soup.Metadata);

        using Checkpoint merged = Checkpoint.Open(output), w0 = Checkpoint.Open(baseFolder);
        foreach (string m in Modules)
        {
            Assert.True(merged.TryGet($"{Key(m)}.weight", out CheckpointTensor t));
            Assert.True(w0.TryGet($"{Key(m)}.weight", out CheckpointTensor t0));
            float[] baseWeight = t0.File.ReadSingles(t0.Info);
            double[] delta = Delta(a, m).Zip(Delta(b, m), (x, y) => 0.3 * x + 0.7 * y).ToArray();
            AssertClose(baseWeight.Zip(delta, (w, d) => (float)(w + d)).ToArray(), t.File.ReadSingles(t.Info).Select(x => (double)x).ToList(), 1e-6);
        }
        Assert.True(merged.TryGet("wte.weight", out CheckpointTensor copied));
        Assert.True(w0.TryGet("wte.weight", out CheckpointTensor original));
        Assert.Equal(original.File.ReadAll(original.Info), copied.File.ReadAll(copied.Info));   // untouched: the same bytes
        Assert.Equal("{\"model_type\": \"gpt2\"}", File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.True(File.Exists(Path.Combine(output, "tokenizer.json")));
        Assert.Equal("{\"max_length\": 8}", File.ReadAllText(Path.Combine(output, "generation_config.json")));
        Assert.False(File.Exists(Path.Combine(output, "pytorch_model.bin")));                 // never stale weights beside the merged ones
        Assert.Equal("lora-delta", full.Metadata["soup.method"]);                            // the soup's description, not the fold's
        Assert.Contains(w0.HeaderSha256, full.Metadata["soup.merged_into"]);
        Assert.Contains("\"path\":", merged.Metadata["soup.inputs"]);
    }

    [Fact]
    public void BadInput_OneLineErrors_NothingWritten()
    {
        string a = Adapter("a", 2, 4, 1), b = Adapter("b", 2, 4, 2), c = Adapter("c", 2, 4, 3);
        string output = _dir.File("soup");
        IMergeMethod slerp = MergeMethods.Get("slerp"), ties = MergeMethods.Get("ties");
        string Error(Action merge) => Assert.Throws<SoupInputException>(merge).Message;
        var errors = new List<string>();
        errors.Add(Error(() => LoraMethodSoup.Merge([a, b], null, output, slerp, slerp.DefaultParameters)));
        errors.Add(Error(() => LoraMethodSoup.Merge([a, b], null, output, ties, ties.DefaultParameters, BaseModel(false))));
        errors.Add(Error(() => LoraMethodSoup.Merge([a, b, c], null, output, slerp, slerp.DefaultParameters, BaseModel(false))));
        string plain = Adapter("plain", 2, 4, 4, plainTensor: true);
        errors.Add(Error(() => LoraMethodSoup.Merge([plain, Adapter("plain2", 2, 4, 5, plainTensor: true)], null, output, ties, ties.DefaultParameters)));
        errors.Add(Error(() => LoraMethodSoup.Merge([a, plain], null, output, ties, ties.DefaultParameters)));
        errors.Add(Error(() => LoraMethodSoup.Merge([a, b], null, output, slerp, slerp.DefaultParameters, BaseModel(fanInFanOut: true))));
        Assert.Contains("give the base model the adapters adapt", errors[0]);
        Assert.Contains("task vectors already", errors[1]);
        Assert.Contains("exactly 2", errors[2]);
        Assert.Contains("not a LoRA factor", errors[3]);
        Assert.Contains("is in " + plain, errors[4]);
        Assert.Contains("the adapters imply [5, 7]", errors[5]);
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));
        Assert.False(Directory.Exists(output));
    }
}
