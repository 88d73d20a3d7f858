using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

public sealed class MergeCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Model(string name, int seed, DType dtype = DType.F32, long step = 7) =>
        Synthetic.Write(_dir.File(name), Synthetic.Model(seed, dtype, step));

    [Fact]
    public void Merge_ValidInputs_Exit0AndWritesTheSoup()
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2);
        string output = _dir.File("soup.safetensors");
        var r = CliRunner.Run("merge", "-o", output, "--weights", "0.3,0.7", a, b);
        Assert.Equal(0, r.Exit);
        Assert.Contains("6 tensors", r.Out);
        Assert.Contains("weights [0.3, 0.7]", r.Out);
        using SafetensorsFile soup = SafetensorsFile.Open(output);
        Assert.Equal("[0.3,0.7]", soup.Metadata["soup.weights"]);
    }

    [Fact]
    public void Merge_AsAProcess_NeverLoadsLibtorch()
    {
        // A merge is file arithmetic: loading a task family would load libtorch (~110 MiB, ~0.3 s). The dynamic
        // loader's own log (LD_DEBUG=files) names every library the process opens, dlopen'ed ones included.
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2);
        // Without MKL_CBWR in the environment, as a user's shell starts it: a loaded task family would set MKL's mode, loading libtorch.
        var environment = new Dictionary<string, string> { ["LD_DEBUG"] = "files" };
        var r = CliRunner.RunProcess(environment, setMkl: false, "merge", "-o", _dir.File("soup.safetensors"), "--weights", "0.3,0.7", a, b);
        Assert.Equal(0, r.Exit);
        Assert.Contains("libcoreclr.so", r.Err);   // the log is there
        Assert.Contains("libSystem.Native.so", r.Err);
        Assert.DoesNotContain("libtorch", r.Err);
        // And the log would show it: a command that needs the task families sets MKL's mode first, which loads libtorch
        // (here before an unknown reward is refused: nothing else in that command touches libtorch).
        var train = CliRunner.RunProcess(environment, setMkl: false, "train", "--task", "reviews", "--reward", "nonsense", "--steps", "10", "-o", _dir.File("t"));
        Assert.Equal(2, train.Exit);
        Assert.Contains("libtorch_cpu.so", train.Err);
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void Merge_EveryMethod_SameBytesWithOrWithoutAvx512Avx2OrAnySimd(DType dtype)
    {
        // Our machines differ in CPU: a soup must not. Each knob makes the runtime treat the CPU as lacking an
        // instruction set (on .NET 10, a probe printed: EnableAVX512=0 → Vector512 not accelerated; EnableAVX2=0 →
        // Vector256 not; EnableHWIntrinsic=0 → no vectors at all), so the kernels' 256-bit loops, their scalar
        // fallbacks and TensorPrimitives' widths all run here. Slerp's angle once came from TensorPrimitives.Dot,
        // whose lane count follows the CPU: its bytes differed with EnableAVX512=0.
        var random = new Random(5);
        // 70,003 elements: two full 32 Ki slices, an odd tail, and a tensor shorter than one vector.
        (string Name, long[] Shape)[] layers = [("big", [70_003]), ("small", [5])];
        string Write(string name, Func<int, float> value) => Synthetic.Write(_dir.File(name), layers
            .Select(l => (new TensorSpec(l.Name, dtype, l.Shape), Synthetic.Encode(dtype, Enumerable.Range(0, (int)l.Shape[0]).Select(value).ToArray())))
            .ToArray());
        float[] init = Enumerable.Range(0, 70_003).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        string b0 = Write("init.safetensors", i => init[i]);
        string[] experts = Enumerable.Range(1, 3)
            .Select(k => Write($"e{k}.safetensors", i => init[i] + (float)(random.NextDouble() * 0.2 - 0.1))).ToArray();
        string[] taskVector = ["--weights", "0.2,0.3,0.5", "--base", b0, .. experts];
        var runs = new Dictionary<string, string[]>
        {
            ["linear"] = ["--weights", "0.2,0.3,0.5", .. experts],
            ["task_arithmetic"] = taskVector,
            ["ties"] = ["--density", "0.5", .. taskVector],
            ["dare_linear"] = ["--density", "0.5", "--seed", "3", .. taskVector],
            ["dare_ties"] = ["--density", "0.5", "--seed", "3", .. taskVector],
            ["slerp"] = ["--t", "0.3", experts[0], experts[1]],
        };
        Assert.Equal(MergeMethods.All.Select(m => m.Name).Order(), runs.Keys.Order());
        foreach ((string method, string[] args) in runs)
        {
            byte[] Merge(string knob)
            {
                string output = _dir.File($"{method}-{knob}.safetensors");
                var environment = knob == "" ? new Dictionary<string, string>() : new Dictionary<string, string> { [knob] = "0" };
                var r = CliRunner.RunProcess(environment, setMkl: false, ["merge", "-o", output, "--method", method, .. args]);
                Assert.True(r.Exit == 0, $"{method} {knob}: {r.Err}");
                return File.ReadAllBytes(output);
            }
            byte[] reference = Merge("");
            foreach (string knob in new[] { "DOTNET_EnableAVX512", "DOTNET_EnableAVX2", "DOTNET_EnableHWIntrinsic" })
                Assert.True(reference.AsSpan().SequenceEqual(Merge(knob)), $"{method} on {dtype}: other bytes with {knob}=0");
        }
    }

    [Theory]
    [InlineData("0.3,0.6", "error: weights: sum to 0.8999999999999999, not 1")]
    [InlineData("0.3,x", "error: weights: 'x' (weight 2) is not a number")]
    [InlineData("1.2,-0.2", "error: weights: weight 2 is -0.2; weights must be non-negative")]
    [InlineData("0.5,0.5,0", "error: weights: 3 given for 2 inputs")]
    [InlineData("nan,1", "error: weights: weight 1 is NaN")]
    public void Merge_InvalidWeights_Exit2WithOneLine(string weights, string expected)
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2);
        var r = CliRunner.Run("merge", "-o", _dir.File("o.safetensors"), "--weights", weights, a, b);
        Assert.Equal(2, r.Exit);
        Assert.Single(r.ErrLines);
        Assert.StartsWith(expected, r.ErrLines[0]);
        Assert.Equal(["a.safetensors", "b.safetensors"], _dir.Entries());
    }

    [Fact]
    public void Merge_AllowExtrapolation_AcceptsNegativeWeightsAndSaysSo()
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2);
        var r = CliRunner.Run("merge", "-o", _dir.File("o.safetensors"), "--weights", "1.2,-0.2", "--allow-extrapolation", a, b);
        Assert.Equal(0, r.Exit);
        Assert.Contains("extrapolation", r.Out);
    }

    [Fact]
    public void Merge_CorruptInput_Exit2NamingTheFile()
    {
        string a = Model("a.safetensors", 1);
        string bad = _dir.File("bad.safetensors");
        File.WriteAllBytes(bad, File.ReadAllBytes(a)[..^5]);
        var r = CliRunner.Run("merge", "-o", _dir.File("o.safetensors"), a, bad);
        Assert.Equal(2, r.Exit);
        Assert.Single(r.ErrLines);
        Assert.StartsWith($"error: {bad}: tensor '", r.ErrLines[0]);
        Assert.Contains("truncated", r.ErrLines[0]);
    }

    [Fact]
    public void Merge_MismatchedCheckpoints_Exit2NamingTensorAndFiles()
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2, DType.BF16);
        var r = CliRunner.Run("merge", "-o", _dir.File("o.safetensors"), a, b);
        Assert.Equal(2, r.Exit);
        Assert.Equal($"error: tensor 'actor_mean.0.weight': dtype F32 in {a} but BF16 in {b}", r.ErrLines.Single());
    }

    [Fact]
    public void Merge_MissingInput_Exit2()
    {
        var r = CliRunner.Run("merge", "-o", _dir.File("o.safetensors"), _dir.File("nope.safetensors"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("nope.safetensors: no such file", r.Err);
    }

    [Theory]
    [InlineData(new[] { "merge", "a.safetensors" }, "--output is required")]
    [InlineData(new[] { "merge", "-o", "x.safetensors" }, "no input checkpoints given")]
    [InlineData(new[] { "blend" }, "error: unknown command 'blend'; commands: merge, inspect, front, train, pretrain, eval, run, job, report, prefer, status, cancel, serve, demo (see 'soup --help')")]
    [InlineData(new[] { "blend", "--help" }, "error: unknown command 'blend'; commands: merge, inspect, front, train, pretrain, eval, run, job, report, prefer, status, cancel, serve, demo (see 'soup --help')")]
    public void UsageErrors_Exit2WithHint(string[] args, string expected)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
        Assert.Contains("--help", r.Err);
        if (args[0] == "blend") Assert.Single(r.ErrLines);   // one line, not the parser's two
    }

    [Fact]
    public void BareSoup_PrintsTheHelp_Exit0()
    {
        var r = CliRunner.Run();
        Assert.Equal(0, r.Exit);
        Assert.Contains("Usage:", r.Out);
        Assert.Contains("merge", r.Out);
        Assert.Equal("", r.Err);
    }

    [Theory]
    [InlineData("--method", "magic", "unknown merge method 'magic'; methods: linear, task_arithmetic, ties, dare_linear, dare_ties, slerp")]
    [InlineData("--method", "ties", "method ties merges task vectors θᵢ − θ₀ and needs the shared init θ₀ as the base (--base)")]
    [InlineData("--density", "0.5", "--density: method linear does not take 'density' (it takes no parameters)")]
    [InlineData("--base", "a.safetensors", "method linear takes no base")]
    [InlineData("--dtype", "F7", "--dtype 'F7' is not a dtype; valid: BOOL")]
    [InlineData("--dtype", "I32", "output dtype I32 is not a floating dtype")]
    [InlineData("--max-shard-size", "lots", "--max-shard-size: 'lots' is not a size")]
    [InlineData("--threads", "-1", "--threads must be positive")]
    public void Merge_BadOptionValue_Exit2NamingIt(string option, string value, string expected)
    {
        string a = Model("a.safetensors", 1);
        var r = CliRunner.Run("merge", "-o", _dir.File("out"), option, value, a);
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
    }

    [Fact]
    public void Merge_ShardedFolderOutput_WritesIndexThatInspectReads()
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2);
        string folder = _dir.File("soup-hf");
        var r = CliRunner.Run("merge", "-o", folder, "--max-shard-size", "200B", "--dtype", "bf16", a, b);
        Assert.Equal(0, r.Exit);
        Assert.Contains("shards + model.safetensors.index.json", r.Out);
        var inspect = CliRunner.Run("inspect", "--json", folder);
        Assert.Equal(0, inspect.Exit);
        using JsonDocument doc = JsonDocument.Parse(inspect.Out);
        Assert.True(doc.RootElement.GetProperty("files").GetArrayLength() > 1);
        Assert.Equal(6, doc.RootElement.GetProperty("tensors").GetArrayLength());
        Assert.Equal("BF16", doc.RootElement.GetProperty("tensors")[0].GetProperty("dtype").GetString());
    }

    [Fact]
    public void Inspect_Table_ListsTensorsAndMetadata()
    {
        string a = Synthetic.Write(_dir.File("a.safetensors"), Synthetic.Model(1, DType.F16), new Dictionary<string, string> { ["format"] = "pt" });
        var r = CliRunner.Run("inspect", a);
        Assert.Equal(0, r.Exit);
        Assert.Contains("6 tensors", r.Out);
        Assert.Contains("meta format = pt", r.Out);
        Assert.Contains("actor_mean.0.weight", r.Out);
        Assert.Contains("[16, 7]", r.Out);
    }

    [Theory]
    [InlineData("merge")]
    [InlineData("inspect")]
    [InlineData("front")]
    [InlineData("demo")]
    public void Help_EveryCommand_Exit0WithUsage(string command)
    {
        var r = CliRunner.Run(command, "--help");
        Assert.Equal(0, r.Exit);
        Assert.Contains("Usage:", r.Out);
        // In-process the executable is the test host; the command name follows it.
        Assert.Contains($" {command} ", r.Out[r.Out.IndexOf("Usage:", StringComparison.Ordinal)..]);
    }

    [Fact]
    public void Merge_UnknownOption_Exit2NamingIt()
    {
        string a = Model("a.safetensors", 1);
        var r = CliRunner.Run("merge", "--bogus", "-o", _dir.File("x.safetensors"), a);
        Assert.Equal(2, r.Exit);
        Assert.Equal("error: unknown option '--bogus' (see 'soup merge --help')", r.ErrLines.Single());
    }

    [Fact]
    public void Script_BuildsAndRunsTheCli_ExitCodesPassThrough()
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2);
        var ok = CliRunner.RunScript(_dir.Path, "merge", "-o", "s.safetensors", "a.safetensors", "b.safetensors");
        Assert.True(ok.Exit == 0, ok.Err);
        Assert.True(File.Exists(_dir.File("s.safetensors")));
        var bad = CliRunner.RunScript(_dir.Path, "merge", "-o", "t.safetensors", "--weights", "2,2", "a.safetensors", "b.safetensors");
        Assert.Equal(2, bad.Exit);
        Assert.EndsWith("error: weights: sum to 4, not 1 (tolerance 1e-06); --allow-extrapolation accepts any finite weights", bad.Err.Trim());
    }

    [Fact]
    public void Merge_PeftAdapterFolders_BothModes()
    {
        string Adapter(string name, int seed)
        {
            string folder = _dir.File(name);
            Directory.CreateDirectory(folder);
            var random = new Random(seed);
            byte[] F(int n) => Synthetic.Encode(DType.F32, Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray());
            Synthetic.Write(Path.Combine(folder, "adapter_model.safetensors"),
            [
                (new TensorSpec("base_model.model.h.0.attn.c_attn.lora_A.weight", DType.F32, [2, 4]), F(8)),
                (new TensorSpec("base_model.model.h.0.attn.c_attn.lora_B.weight", DType.F32, [3, 2]), F(6)),
            ]);
            File.WriteAllText(Path.Combine(folder, "adapter_config.json"), """{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["c_attn"]}""");
            return folder;
        }
        string a = Adapter("a", 1), b = Adapter("b", 2);
        var delta = CliRunner.Run("merge", "-o", _dir.File("delta"), "--weights", "0.4,0.6", a, b);
        Assert.True(delta.Exit == 0, delta.Err);
        Assert.Contains("PEFT adapter (delta)", delta.Out);
        Assert.Contains("\"r\": 4", File.ReadAllText(Path.Combine(_dir.File("delta"), "adapter_config.json")));
        var factors = CliRunner.Run("merge", "-o", _dir.File("factors"), "--lora-mode", "factors", a, b);
        Assert.Equal(0, factors.Exit);
        Assert.Contains("\"r\": 2", File.ReadAllText(Path.Combine(_dir.File("factors"), "adapter_config.json")));
        var mixed = CliRunner.Run("merge", "-o", _dir.File("x"), a, Model("m.safetensors", 1));
        Assert.Equal(2, mixed.Exit);
        Assert.Contains("not a PEFT adapter folder", mixed.Err);
        var badMode = CliRunner.Run("merge", "-o", _dir.File("y"), "--lora-mode", "ties", a, b);
        Assert.Equal(2, badMode.Exit);
        Assert.Contains("--lora-mode 'ties' is not a mode", badMode.Err);

        // Other methods merge the ΔWᵢ = sᵢBᵢAᵢ: ties' dense ΔW (3 × 4) is written as an adapter of rank min(3, 4).
        var ties = CliRunner.Run("merge", "-o", _dir.File("ties"), "--method", "ties", "--density", "0.5", a, b);
        Assert.True(ties.Exit == 0, ties.Err);
        Assert.Contains("PEFT adapter (ties {\"density\":0.5,", ties.Out);
        Assert.Contains("; dense ΔW, rank 3", ties.Out);
        Assert.Contains("\"r\": 3", File.ReadAllText(Path.Combine(_dir.File("ties"), "adapter_config.json")));
        // --merge-into: the full model, the base's tensors with the soup's ΔW added; nothing else left beside it.
        string baseFile = _dir.File("base.safetensors");
        Synthetic.Write(baseFile,
        [
            (new TensorSpec("h.0.attn.c_attn.weight", DType.F32, [3, 4]), Synthetic.Encode(DType.F32, Enumerable.Range(0, 12).Select(i => i / 10f).ToArray())),
            (new TensorSpec("wte.weight", DType.F32, [2]), Synthetic.Encode(DType.F32, [5, 6])),
        ]);
        string fullDir = _dir.File("full-out");
        Directory.CreateDirectory(fullDir);
        foreach (string[] how in new[] { new[] { "--method", "ties", "--density", "0.5" }, ["--method", "slerp"], ["--dtype", "bf16"] })
        {
            string full = Path.Combine(fullDir, $"full-{how[^1]}.safetensors");
            var folded = CliRunner.Run(["merge", "-o", full, "--merge-into", baseFile, .. how, a, b]);
            Assert.True(folded.Exit == 0, folded.Err);
            Assert.Contains($"{baseFile} + the adapters' soup (", folded.Out);
            using Checkpoint model = Checkpoint.Open(full);
            Assert.Equal(["h.0.attn.c_attn.weight", "wte.weight"], model.Tensors.Select(t => t.Name));
            Assert.Equal(how[^1] == "bf16" ? DType.BF16 : DType.F32, model.Tensors[0].DType);
            Assert.Contains("soup.merged_into", model.Metadata.Keys);
        }
        Assert.Equal(3, Directory.GetFileSystemEntries(fullDir).Length);   // the scratch adapters are gone
        foreach ((string[] args, string expected) in new (string[], string)[]
        {
            (["--dtype", "f16"], "--dtype: an adapter is written in its factors' dtype"),
            (["--method", "slerp"], "give the base model the adapters adapt (--base)"),
            (["--method", "ties", "--base", a], "task vectors already"),
            (["--method", "ties", "--lora-mode", "factors"], "--lora-mode factors: modes are linear soups' variants"),
            (["--base", a], "a linear soup of adapters reads no base model"),
        })
        {
            var bad = CliRunner.Run(["merge", "-o", _dir.File("never"), .. args, a, b]);
            Assert.Equal(2, bad.Exit);
            Assert.Contains(expected, bad.Err);
            Assert.Single(bad.ErrLines);
            Assert.False(Directory.Exists(_dir.File("never")));
        }
        var fullInputs = CliRunner.Run("merge", "-o", _dir.File("never.safetensors"), "--merge-into", baseFile, Model("m1.safetensors", 1), Model("m2.safetensors", 2));
        Assert.Equal(2, fullInputs.Exit);
        Assert.Contains("--merge-into folds LoRA adapters into their base model", fullInputs.Err);
    }

    [Fact]
    public void Merge_Ties_WithBaseAndDensity_RecordsMethodParametersAndBase()
    {
        string init = Model("init.safetensors", 1), a = Model("a.safetensors", 2), b = Model("b.safetensors", 3);
        string output = _dir.File("ties.safetensors");
        var r = CliRunner.Run("merge", "-o", output, "--method", "ties", "--base", init, "--density", "0.5", "--weights", "0.3,0.7", a, b);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("ties {", r.Out);
        using SafetensorsFile soup = SafetensorsFile.Open(output);
        Assert.Equal("ties", soup.Metadata["soup.method"]);
        JsonElement parameters = JsonDocument.Parse(soup.Metadata["soup.parameters"]).RootElement;
        Assert.Equal(0.5, parameters.GetProperty("density").GetDouble());
        Assert.True(parameters.GetProperty("normalize").GetBoolean());
        Assert.Contains("init.safetensors", soup.Metadata["soup.base"]);
        Assert.Equal("7", BitConverter.ToInt64(soup.ReadAll(soup.Header.ByName["global_step"])).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(new[] { "--method", "ties", "--density", "1.5" }, "'ties.density': must be in (0, 1], got 1.5")]
    [InlineData(new[] { "--method", "dare_ties", "--seed", "x" }, "'dare_ties.seed'")]
    [InlineData(new[] { "--method", "ties", "--t", "0.5" }, "--t: method ties does not take 't' (its parameters: lambda, normalize, density)")]
    [InlineData(new[] { "--method", "slerp", "--t", "0.5", "--weights", "0.5,0.5" }, "--t and --weights both set slerp's interpolation; give one")]
    public void Merge_BadMethodParameters_Exit2NothingWritten(string[] options, string expected)
    {
        string init = Model("init.safetensors", 1), a = Model("a.safetensors", 2), b = Model("b.safetensors", 3);
        string output = _dir.File("never.safetensors");
        string[] withBase = options.Contains("slerp") ? options : [.. options, "--base", init];
        var r = CliRunner.Run(["merge", "-o", output, .. withBase, a, b]);
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Merge_SlerpOfThree_Exit2()
    {
        string a = Model("a.safetensors", 1), b = Model("b.safetensors", 2), c = Model("c.safetensors", 3);
        var r = CliRunner.Run("merge", "-o", _dir.File("o.safetensors"), "--method", "slerp", a, b, c);
        Assert.Equal(2, r.Exit);
        Assert.Contains("method slerp merges exactly 2 models, got 3", r.Err);
    }

    [Fact]
    public void ListMethods_NamesEveryMethodWithItsParametersAndDefaults()
    {
        var r = CliRunner.Run("merge", "--list-methods");
        Assert.Equal(0, r.Exit);
        foreach (string name in new[] { "linear:", "task_arithmetic:", "ties:", "dare_linear:", "dare_ties:", "slerp:" }) Assert.Contains(name, r.Out);
        Assert.Contains("--density (default 1)", r.Out);
        Assert.Contains("--seed (default 0)", r.Out);
        Assert.Contains("needs --base", r.Out);
        Assert.Contains("exactly 2 inputs", r.Out);
    }
}
