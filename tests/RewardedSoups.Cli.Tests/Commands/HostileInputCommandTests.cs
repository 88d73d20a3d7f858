using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Cli;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>
/// `soup inspect` and `soup merge` on hostile checkpoints: exit status 2, one escaped line on stderr
/// naming the file and the problem, nothing written, no blocking, and memory bounded by the header.
/// </summary>
public sealed class HostileInputCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Kinds =>
    [
        "huge-rank", "too-many-tensors", "long-name", "lone-surrogate", "ansi-name", "long-number",
        "duplicate-dtype", "fifo", "dev-zero-index", "fifo-index", "fifo-shard", "shard-link-out", "shard-folder",
    ];

    /// <summary>
    /// Makes the hostile input of a kind; returns its path, what the error must say, its header bytes
    /// (0: not a header) and the FIFO it holds ("" if none).
    /// </summary>
    private async Task<(string Path, string Expected, long HeaderBytes, string Fifo)> Make(string kind)
    {
        string file = _dir.File(kind + ".safetensors");
        (byte[]? bytes, string expected) = kind switch
        {
            "huge-rank" => (Hostile.HugeRank(5_000_000), "tensor 'a': shape has more than 64 dimensions, the limit"),
            "too-many-tensors" => (Hostile.ZeroSizeTensors(SafetensorsHeader.MaxEntries + 1), "header holds more than 1,000,000 tensors, the limit"),
            "long-name" => (Hostile.LongName(10_000_000), "tensor name 'nnnnnnnnnn"),
            "lone-surrogate" => (Synthetic.Raw("{\"a\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "lone UTF-16 surrogate"),
            "ansi-name" => (Synthetic.Raw("{\"\\u001b[31mred\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "tensor '\\u001b[31mred': data_offsets [0, 1] hold 1 bytes"),
            "long-number" => (Synthetic.Raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0," + new string('7', 200_000) + "]}}", 1), "(200000 bytes), not a non-negative integer"),
            "duplicate-dtype" => (Synthetic.Raw("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "'dtype' appears twice"),
            "fifo" => (null, "is a FIFO (named pipe), not a regular file"),
            "dev-zero-index" => (null, "model.safetensors.index.json: is a character device, not a regular file"),
            "fifo-index" => (null, "model.safetensors.index.json: is a FIFO (named pipe), not a regular file"),
            "fifo-shard" => (null, "named in weight_map is a FIFO (named pipe), not a regular file"),
            "shard-link-out" => (null, "outside the checkpoint's folder"),
            "shard-folder" => (null, "named in weight_map is a folder, not a file"),
            _ => throw new ArgumentException(kind),
        };
        if (bytes is not null)
        {
            File.WriteAllBytes(file, bytes);
            return (file, expected, bytes.Length, "");
        }
        if (kind == "fifo") return (await Fifo.Create(file), expected, 0, file);
        // The others break one file of a sharded folder.
        var model = Synthetic.Model(1, DType.F32);
        string folder = _dir.File(kind);
        using (var writer = new CheckpointWriter(folder, model.Select(t => t.Spec).ToArray(), new Dictionary<string, string>(), 200))
        {
            for (int i = 0; i < model.Length; i++) writer.Write(i, 0, model[i].Data);
            writer.Commit();
        }
        string target = kind.EndsWith("index", StringComparison.Ordinal)
            ? Path.Combine(folder, Checkpoint.IndexFileName)
            : Directory.GetFiles(folder, "model-00001-*").Single();
        if (kind == "shard-link-out") File.Move(target, _dir.File("elsewhere.safetensors"));
        else File.Delete(target);
        switch (kind)
        {
            case "dev-zero-index": File.CreateSymbolicLink(target, "/dev/zero"); break;
            case "shard-link-out": File.CreateSymbolicLink(target, _dir.File("elsewhere.safetensors")); break;
            case "shard-folder": Directory.CreateDirectory(target); break;
            default: await Fifo.Create(target); break;
        }
        return (folder, expected, 0, kind.StartsWith("fifo", StringComparison.Ordinal) ? target : "");
    }

    /// <summary>Runs the command: on this thread when memory is measured, else (a FIFO) on another, which must finish within 10 s.</summary>
    private static async Task<(CliRunner.Result Result, long Allocated)> Run(string fifo, params string[] args)
    {
        CliRunner.Result? result = null;
        if (fifo.Length > 0)
        {
            Assert.True(await Fifo.FinishesWithoutBlocking(fifo, () => result = CliRunner.Run(args)), $"soup {args[0]} blocked on {fifo}");
            return (result!, 0);
        }
        long allocated = Hostile.Allocated(() => result = CliRunner.Run(args));
        return (result!, allocated);
    }

    private static void AssertOneLine(CliRunner.Result r, string path, string expected, long headerBytes, long allocated)
    {
        Assert.Equal(2, r.Exit);
        string line = Assert.Single(r.ErrLines);
        Assert.StartsWith($"error: {path}", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain(line, c => char.IsControl(c));
        Assert.True(line.Length < 600, $"a line of {line.Length} characters");
        // The header buffer, and little else: no allocation in proportion to what the header declares.
        if (headerBytes > 0) Assert.InRange(allocated, 0, headerBytes + (4 << 20));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Inspect_HostileInput_Exit2WithOneEscapedLine(string kind)
    {
        var (path, expected, headerBytes, fifo) = await Make(kind);
        var (r, allocated) = await Run(fifo, "inspect", path);
        AssertOneLine(r, path, expected, headerBytes, allocated);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Merge_HostileInput_Exit2WithOneEscapedLineAndNoOutput(string kind)
    {
        string good = Synthetic.Write(_dir.File("good.safetensors"), Synthetic.Model(1, DType.F32));
        var (path, expected, headerBytes, fifo) = await Make(kind);
        string[] before = _dir.Entries();
        var (r, allocated) = await Run(fifo, "merge", "-o", _dir.File("soup.safetensors"), good, path);
        AssertOneLine(r, path, expected, headerBytes, allocated);
        Assert.Equal(before, _dir.Entries());
    }

    [Fact]
    public void Inspect_ControlCharactersInValidNames_PrintedEscaped()
    {
        string path = Synthetic.Write(_dir.File("ansi.safetensors"), [(new TensorSpec("\u001b[2J\u001b[31mwipe\r\n", DType.U8, [1]), [1])],
            new Dictionary<string, string> { ["title\u0007"] = "\u001b]0;owned\u0007" });
        var r = CliRunner.Run("inspect", path);
        Assert.Equal(0, r.Exit);
        Assert.DoesNotContain(r.Out, c => char.IsControl(c) && c != '\n');
        Assert.Contains("\\u001b[2J\\u001b[31mwipe\\r\\n", r.Out);
        Assert.Contains("meta title\\u0007 = \\u001b]0;owned\\u0007", r.Out);
        var json = CliRunner.Run("inspect", "--json", path);
        using JsonDocument doc = JsonDocument.Parse(json.Out);
        Assert.Equal("\u001b[2J\u001b[31mwipe\r\n", doc.RootElement.GetProperty("tensors")[0].GetProperty("name").GetString());
        Assert.DoesNotContain(json.Out, c => char.IsControl(c) && c != '\n');
    }

    [Fact]
    public void InspectAndMerge_ManyZeroSizeTensors_MemoryASmallMultipleOfTheHeaders()
    {
        byte[] bytes = Hostile.ZeroSizeTensors(100_000);
        string a = _dir.File("a.safetensors"), b = _dir.File("b.safetensors");
        File.WriteAllBytes(a, bytes);
        File.WriteAllBytes(b, bytes);
        long Measure(params string[] args) => Hostile.Allocated(() => Assert.Equal(0, Program.Run(args, TextWriter.Null, TextWriter.Null)));
        string tiny = Synthetic.Write(_dir.File("tiny.safetensors"), [(new TensorSpec("t", DType.U8, [1]), [1])]);
        Measure("inspect", tiny); // the first command of a process initialises its types
        long baseline = Measure("inspect", tiny);
        // Measured, above that baseline: 6.1× the header for the table, 6.2× for --json (written as it
        // is made), 29× for a merge of two (both inputs opened, the output planned and its header made).
        Assert.InRange(Measure("inspect", a) - baseline, 0, 7L * bytes.Length);
        Assert.InRange(Measure("inspect", "--json", a) - baseline, 0, 7L * bytes.Length);
        Assert.InRange(Measure("merge", "-o", _dir.File("soup.safetensors"), a, b) - baseline, 0, 34L * bytes.Length);
    }
}
