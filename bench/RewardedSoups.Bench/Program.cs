using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.Bench;

/// <summary>
/// Benchmarks print ratios measured within one run, because these machines are shared and noisy.
/// <c>merge</c>: three checkpoints of about SIZE GiB each are merged by the streaming soup engine; in the
/// same run, alternating with it (each run swaps which goes first), the I/O floor is measured: reading the inputs and writing an
/// output of the same size, flushed to disk as the merge's output is, by the faster of two plain copies
/// measured each run: buffered writes, and writes past the page cache as the merge's own (DirectWrites;
/// both the same where the file system refuses O_DIRECT or SOUP_DIRECT_IO=0 is set).
/// Reported: the median of the paired per-run ratios, each merge against the floor measured beside it (the verdict: goal
/// ≤ 1.3 for linear, ≤ 1.5 for the other methods), best merge time / best floor time beside it, and the peak resident
/// memory of `soup merge` run as a child process (goal &lt; 300 MB). One row per merge method (<c>--methods</c>, default all): task-vector methods also read
/// a base checkpoint and slerp reads two inputs, and the floor reads what the method reads. ties and dare_ties
/// run at density 0.5 (mergekit's default 1 would skip the trimming being measured), slerp at t = 0.3.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- merge [--size-gib 1] [--dtype F32|BF16|both] [--runs 5] [--methods linear,ties,…] [--dir DIR]
/// Other modes: <c>train</c> (<see cref="TrainBenchmark"/>), <c>app</c> (<see cref="AppBenchmark"/>), <c>app-load</c> (<see cref="AppLoadBenchmark"/>), <c>lm</c> (<see cref="LmBenchmark"/>), <c>image</c> (<see cref="ImageBenchmark"/>), <c>conv</c> (<see cref="ConvBenchmark"/>), <c>slurm</c> (<see cref="SlurmBenchmark"/>), <c>scalar-stress</c> (<see cref="ScalarStress"/>), <c>faithfulness</c> (<see cref="FaithfulnessStudy"/>, a measurement of the text reward, not of speed), <c>text-samples</c> (<see cref="TextSamples"/>, unedited samples for docs/text.md).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "train") return TrainBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "scalar-stress") return ScalarStress.Run(args);
        if (args.Length > 0 && args[0] == "faithfulness") return FaithfulnessStudy.Run(args);
        if (args.Length > 0 && args[0] == "text-samples") return TextSamples.Run(args);
        if (args.Length > 0 && args[0] == "app") return AppBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "app-load") return AppLoadBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "lm") return LmBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "image") return ImageBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "conv") return ConvBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "slurm") return SlurmBenchmark.Run(args);
        if (args.Length == 0 || args[0] != "merge")
        {
            Console.Error.WriteLine("usage: RewardedSoups.Bench merge [--size-gib 1] [--dtype F32|BF16|both] [--runs 5] [--methods linear,ties,...] [--dir DIR]");
            Console.Error.WriteLine("       RewardedSoups.Bench train [--task cheetah] [--updates 8] [--runs 3]");
            Console.Error.WriteLine("       RewardedSoups.Bench app --run RUN_DIR [--fresh 10] [--clients 20] [--seconds 30] [--seed 1] [--keep-cache]");
            Console.Error.WriteLine("       RewardedSoups.Bench app-load [--run RUN_DIR] [--clients 50] [--lambdas 2000] [--cache-mb 64] [--max-queued Q] [--single 20] [--baseline SOUP_DLL] [--abandon 400] [--seed 1] [--server SOUP_DLL]");
            Console.Error.WriteLine("       RewardedSoups.Bench lm [--runs 3] [--threads 1] [--batch 64] [--updates 3]");
            Console.Error.WriteLine("       RewardedSoups.Bench image [--channels 32] [--steps 10] [--runs 3] [--threads 0]");
            Console.Error.WriteLine("       RewardedSoups.Bench image --experiment DIR [--size tiny|built-in|large] [--seed 1]");
            Console.Error.WriteLine("       RewardedSoups.Bench conv [--channels 16] [--batch 64] [--runs 5] [--threads 1]");
            Console.Error.WriteLine("       RewardedSoups.Bench slurm [--config tiny] [--runs 2]");
            Console.Error.WriteLine("       RewardedSoups.Bench scalar-stress [--seconds 20] [--runs 2]");
            Console.Error.WriteLine("       RewardedSoups.Bench faithfulness --init TEXT_INIT_DIR [--prompts 96] [--seeds 8]");
            Console.Error.WriteLine("       RewardedSoups.Bench text-samples --init TEXT_INIT_DIR [--policy NAME=JOB_DIR]... [--count 10] [--seed 0]");
            return 2;
        }
        double sizeGib = double.Parse(Option(args, "--size-gib", "1"), CultureInfo.InvariantCulture);
        int runs = int.Parse(Option(args, "--runs", "5"), CultureInfo.InvariantCulture);
        string dtypes = Option(args, "--dtype", "both");
        string dir = Path.GetFullPath(Option(args, "--dir", Path.Combine("bench-out", "merge")));
        Directory.CreateDirectory(dir);
        string[] methods = Option(args, "--methods", string.Join(",", MergeMethods.All.Select(m => m.Name))).Split(',');
        var rows = new List<string>();
        foreach (DType dtype in dtypes == "both" ? new[] { DType.F32, DType.BF16 } : [DTypes.ParseUserName(dtypes, "--dtype")])
            foreach (string method in methods)
                rows.Add(MergeBenchmark(dir, dtype, sizeGib, runs, MergeMethods.Get(method)));
        Console.WriteLine();
        Console.WriteLine("| inputs | method | floor s (best / median) | merge s (best / median) | merge / floor: median of paired runs (all runs) | best / best | peak RSS of `soup merge` |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (string row in rows) Console.WriteLine(row);
        return 0;
    }

    internal static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    /// <summary>The parameters each method is measured with, as a configuration section (keys are also the CLI's option names).</summary>
    private static JsonObject BenchSection(IMergeMethod method) => method.Name switch
    {
        "ties" => new JsonObject { ["density"] = 0.5 },
        "dare_ties" or "dare_linear" => new JsonObject { ["density"] = 0.5, ["seed"] = 1 },
        "slerp" => new JsonObject { ["t"] = 0.3 },
        _ => [],
    };

    /// <summary>The same parameters as <c>soup merge</c> options: <c>--density 0.5 --seed 1</c>.</summary>
    private static string[] BenchOptions(IMergeMethod method) =>
        [.. BenchSection(method).SelectMany(p => new[] { "--" + p.Key, p.Value!.ToJsonString() })];

    private static string MergeBenchmark(string dir, DType dtype, double sizeGib, int runs, IMergeMethod method)
    {
        string[] experts = Enumerable.Range(1, 4).Select(k => Path.Combine(dir, $"expert-{k}-{dtype.Name()}.safetensors")).ToArray();
        long elements = (long)(sizeGib * (1L << 30) / dtype.Size());
        for (int k = 0; k < experts.Length; k++)
        {
            if (!File.Exists(experts[k])) Generate(experts[k], dtype, elements, seed: k + 1);
        }
        // Experts 1-3 are the inputs (slerp: 1-2); file 4 is the base of task-vector methods.
        string[] inputs = experts[..(method.Inputs ?? 3)];
        string? baseModel = method.NeedsBase ? experts[3] : null;
        string[] read = baseModel is null ? inputs : [.. inputs, baseModel];
        string output = Path.Combine(dir, $"soup-{dtype.Name()}.safetensors");
        string copy = Path.Combine(dir, $"floor-{dtype.Name()}.bin");
        long outBytes = new FileInfo(inputs[0]).Length;
        double[] weights = inputs.Length == 3 ? [0.2, 0.3, 0.5] : [0.7, 0.3];
        ISettingsSection parameters = MergeMethods.ReadParameters(method, BenchSection(method), new ConfigReader("bench"), method.Name);
        // Warm the page cache for both contenders alike.
        Floor(read, copy, outBytes, direct: false);
        var floors = new List<double>();
        var merges = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            // Each contender starts alike: no previous output to delete, no one's dirty pages to flush. The order
            // alternates (floor first in even runs, merge first in odd ones): on this virtual disk a write runs slower
            // right after another contender's gigabyte than after the warm-up, so a fixed order favoured the floor's
            // first run (0.8–0.9 s against 1.2–1.4 s in every row of the 2026-12-04 run).
            double MeasureFloor()
            {
                Settle(copy, output);
                double buffered = Floor(read, copy, outBytes, direct: false);
                Settle(copy, output);
                return Math.Min(buffered, Floor(read, copy, outBytes, direct: true));
            }
            double MeasureMerge()
            {
                Settle(copy, output);
                var clock = Stopwatch.StartNew();
                StreamingMerge.Merge(new SoupRequest(inputs, method.Name == "slerp" ? null : SoupWeights.Of(weights), output, Method: method, Parameters: parameters, Base: baseModel));
                return clock.Elapsed.TotalSeconds;
            }
            if (r % 2 == 0)
            {
                floors.Add(MeasureFloor());
                merges.Add(MeasureMerge());
            }
            else
            {
                merges.Add(MeasureMerge());
                floors.Add(MeasureFloor());
            }
            Console.Error.WriteLine($"{dtype.Name()} {method.Name} run {r + 1}: floor {floors[^1]:F2} s, merge {merges[^1]:F2} s, ratio {merges[^1] / floors[^1]:F2}");
        }
        File.Delete(copy);
        string[] cliOptions = [.. (method.Name == "slerp" ? [] : new[] { "--weights", string.Join(",", weights.Select(w => w.ToString(CultureInfo.InvariantCulture))) }),
            "--method", method.Name, .. BenchOptions(method), .. (baseModel is null ? [] : new[] { "--base", baseModel })];
        long peakKb = PeakRssOfCliMerge(inputs, cliOptions, output);
        File.Delete(output);
        // The verdict is the median of the paired ratios (each merge against the floor measured beside it), as farm-bench
        // quotes paired runs: a minute in which the virtual disk writes faster favours neither contender, and one outlier
        // does not move it. Best against best (printed beside it) paired the floor's luckiest run with the merge's: on
        // 2026-12-04 three runs of unchanged ties code gave 1.07, 1.51 and 1.78 best/best (the last against a floor whose
        // best run, 0.97 s, was an outlier beside its median of 1.35 s) and 0.96, 1.41 and 1.32 as paired medians.
        var ratios = merges.Zip(floors, (m, f) => m / f).ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"| {inputs.Length} × {sizeGib:G3} GiB {dtype.Name()}{(baseModel is null ? "" : " + base")} | {method.Name} {string.Join(" ", BenchOptions(method))} | {floors.Min():F2} / {Median(floors):F2} | {merges.Min():F2} / {Median(merges):F2} | **{Median(ratios):F2}** ({string.Join(", ", ratios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}) | {merges.Min() / floors.Min():F2} | {peakKb / 1024.0:F0} MiB |");
    }

    /// <summary>A transformer-like checkpoint: 64 MiB matrices, small vectors, and a step counter.</summary>
    private static void Generate(string path, DType dtype, long elements, int seed)
    {
        var specs = new List<TensorSpec>();
        long matrix = (32L << 20) / dtype.Size(); // 32 MiB per matrix, as a 4096 × 2048 F32 or 4096 × 4096 BF16 weight
        long left = elements;
        for (int layer = 0; left > 0; layer++)
        {
            long n = Math.Min(matrix, left);
            specs.Add(new TensorSpec($"model.layers.{layer}.mlp.weight", dtype, [n]));
            specs.Add(new TensorSpec($"model.layers.{layer}.norm.weight", dtype, [4096]));
            left -= n;
        }
        specs.Add(new TensorSpec("global_step", DType.I64, []));
        Console.Error.WriteLine($"generating {path} ({specs.Sum(s => s.ByteLength) >> 20} MiB)");
        using var writer = new CheckpointWriter(path, specs, new Dictionary<string, string> { ["format"] = "pt" });
        var random = new Random(seed);
        var floats = new float[1 << 20];
        var bytes = new byte[floats.Length * 4];
        for (int t = 0; t < specs.Count; t++)
        {
            if (specs[t].DType == DType.I64)
            {
                writer.Write(t, 0, BitConverter.GetBytes(1000L));
                continue;
            }
            long count = specs[t].ByteLength / dtype.Size();
            for (long start = 0; start < count; start += floats.Length)
            {
                int n = (int)Math.Min(floats.Length, count - start);
                for (int i = 0; i < n; i++) floats[i] = (float)(random.NextDouble() * 0.2 - 0.1);
                Numerics.ElementConversion.FromSingle(dtype, floats.AsSpan(0, n), bytes.AsSpan(0, n * dtype.Size()));
                writer.Write(t, start * dtype.Size(), bytes.AsSpan(0, n * dtype.Size()));
            }
        }
        writer.Commit();
    }

    /// <summary>
    /// The I/O floor: read every input through a buffered stream; write the same number of bytes as the output,
    /// flushed to disk: through a buffered stream, or (<paramref name="direct"/>) positionally past the page cache.
    /// </summary>
    private static double Floor(string[] inputs, string copy, long outBytes, bool direct)
    {
        var clock = Stopwatch.StartNew();
        var buffer = new byte[4 << 20];
        if (direct)
        {
            using var output = new FileStream(copy, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
            output.SetLength(outBytes);
            using DirectWrites? writes = DirectWrites.TryOpen(copy);
            long written = 0;
            foreach (string input in inputs)
            {
                using var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                int n;
                while ((n = stream.Read(buffer)) > 0)
                {
                    int w = (int)Math.Min(n, outBytes - written);
                    if (w <= 0) continue;
                    if (writes is null) RandomAccess.Write(output.SafeFileHandle, buffer.AsSpan(0, w), written);
                    else writes.Write(output.SafeFileHandle, buffer.AsSpan(0, w), written);
                    written += w;
                }
            }
            output.Flush(flushToDisk: true);
            return clock.Elapsed.TotalSeconds;
        }
        using (var output = new FileStream(copy, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            long written = 0;
            foreach (string input in inputs)
            {
                using var stream = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                int n;
                while ((n = stream.Read(buffer)) > 0)
                {
                    if (written < outBytes)
                    {
                        int w = (int)Math.Min(n, outBytes - written);
                        output.Write(buffer, 0, w);
                        written += w;
                    }
                }
            }
            output.Flush(flushToDisk: true);
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Runs `soup merge` as a child and returns its peak resident set (KiB): the kernel's high-water mark
    /// (VmHWM in /proc/PID/status), read every 20 ms until the child exits (a per-child figure, unlike
    /// getrusage's RUSAGE_CHILDREN, which is the largest of all children so far).
    /// </summary>
    private static long PeakRssOfCliMerge(string[] inputs, string[] options, string output)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "soup.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { cli, "merge", "-o", output }.Concat(options).Concat(inputs))
            start.ArgumentList.Add(a);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        long peakKb = 0;
        while (!process.WaitForExit(20))
        {
            try
            {
                string? line = File.ReadLines($"/proc/{process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                if (line is not null) peakKb = Math.Max(peakKb, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // The child exited between the check and the read.
            }
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"soup merge failed ({process.ExitCode}): {stderr.Result}");
        Console.Error.Write(stdout.Result);
        return peakKb;
    }

    /// <summary>
    /// Deletes the previous outputs and flushes every dirty page of the machine, outside the timed
    /// region: otherwise whoever writes next is throttled by the kernel for the other's writeback.
    /// </summary>
    private static void Settle(params string[] outputs)
    {
        foreach (string o in outputs) File.Delete(o);
        sync();
    }

    [DllImport("libc")]
    private static extern void sync();

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
