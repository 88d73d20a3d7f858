using System.Text.Json;
using CsCheck;
using RewardedSoups.Checkpoints;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Soup;

/// <summary>Each merge method against values computed by hand, its statistics, its errors, and its invariance to input order.</summary>
public sealed class MergeMethodTests : IDisposable
{
    private readonly TempDir _dir = new();
    private int _files;   // CsCheck samples properties on several threads: file names are taken with Interlocked

    public void Dispose() => _dir.Dispose();

    /// <summary>A checkpoint of one tensor "w" (and a step counter) holding <paramref name="values"/>.</summary>
    private string Write(float[] values, DType dtype = DType.F32)
    {
        string path = _dir.File($"m{Interlocked.Increment(ref _files)}.safetensors");
        return Synthetic.Write(path,
        [
            (new TensorSpec("w", dtype, [values.Length]), Synthetic.Encode(dtype, values)),
            (new TensorSpec("step", DType.I64, []), BitConverter.GetBytes(7L)),
        ]);
    }

    private static float[] Read(string path, string name = "w")
    {
        using Checkpoint c = Checkpoint.Open(path);
        Assert.True(c.TryGet(name, out CheckpointTensor t));
        return Synthetic.Decode(t.DType, t.File.ReadAll(t.Info));
    }

    private string Merge(IMergeMethod method, string[] inputs, SoupWeights? weights, ISettingsSection? parameters = null, string? baseModel = null, int threads = 0,
        DType? outputDType = null)
    {
        string output = _dir.File($"out{Interlocked.Increment(ref _files)}.safetensors");
        StreamingMerge.Merge(new SoupRequest(inputs, weights, output, outputDType, Threads: threads, Method: method, Parameters: parameters, Base: baseModel));
        return output;
    }

    private static void Near(float[] expected, float[] actual, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void TaskArithmetic_AddsTheWeightedTaskVectorsScaledByLambda()
    {
        string b = Write([1, 2, 3, 4]), x = Write([2, 2, 1, 4]), y = Write([1, 4, 3, 6]); // τx = [1, 0, −2, 0], τy = [0, 2, 0, 2]
        Near([1.5f, 3, 2, 5], Read(Merge(TaskVectorMethod.TaskArithmetic, [x, y], [0.5, 0.5], baseModel: b)));
        Near([2, 4, 1, 6], Read(Merge(TaskVectorMethod.TaskArithmetic, [x, y], [0.5, 0.5], new TaskArithmeticParameters { Lambda = 2 }, b)));
        // normalize divides by Σλ = 0.5 here (allowed off the simplex only with extrapolation): θ₀ + (0.25τx + 0.25τy)/0.5.
        string output = _dir.File("normalised.safetensors");
        StreamingMerge.Merge(new SoupRequest([x, y], SoupWeights.Of([0.25, 0.25], allowExtrapolation: true), output, Method: TaskVectorMethod.TaskArithmetic,
            Parameters: new TaskArithmeticParameters { Normalize = true }, Base: b));
        Near([1.5f, 3, 2, 5], Read(output));
    }

    [Fact]
    public void Ties_ElectsTheSignOfTheSum_ATieCountsAsPositive_AndAveragesTheAgreeingOnes()
    {
        string b = Write([0, 0, 0, 0]), x = Write([3, -1, 2, -2]), y = Write([-1, 1, -2, 5]);
        // λτ: x [1.5, −0.5, 1, −1], y [−0.5, 0.5, −1, 2.5]; sums [1, 0, 0, 1.5]: every sign elected +, the zero sums by the tie rule.
        // Agreeing (positive) parts: [1.5 (x), 0.5 (y), 1 (x), 2.5 (y)], each from one model of weight 0.5.
        Near([3, 1, 2, 5], Read(Merge(TaskVectorMethod.Ties, [x, y], [0.5, 0.5], baseModel: b)));
        Near([1.5f, 0.5f, 1, 2.5f], Read(Merge(TaskVectorMethod.Ties, [x, y], [0.5, 0.5], new TiesParameters { Normalize = false }, b)));
        // A negative sum elects −: only the negative parts count.
        string z = Write([-4, 0, 0, 0]);
        Near([-3, 1, 2, 5], Read(Merge(TaskVectorMethod.Ties, [x, y, z], [0.25, 0.25, 0.5], baseModel: b))); // first sum 0.75 − 0.25 − 2 < 0: (−0.25 − 2)/(0.25 + 0.5)
    }

    [Fact]
    public void Ties_DensityKeepsTheLargestMagnitudes()
    {
        string b = Write([1, 1, 1, 1]), x = Write([4, 0, 3, 1.5f]); // τ = [3, −1, 2, 0.5]
        Near([4, 1, 3, 1], Read(Merge(TaskVectorMethod.Ties, [x], [1], new TiesParameters { Density = 0.5 }, b)));
    }

    /// <summary>Slices of in-memory arrays, as the drivers cut them.</summary>
    private sealed class ArraySlices(float[] input, float[] baseValues) : SliceSet<float>
    {
        public override int InputCount => 1;

        public ArraySlices At(long start, int count)
        {
            Start = start;
            Count = count;
            return this;
        }

        public override ReadOnlySpan<float> Input(int k) => input.AsSpan((int)Start, Count);

        public override ReadOnlySpan<float> Base() => baseValues.AsSpan((int)Start, Count);
    }

    [Theory]
    [InlineData("shuffled", 0.5, true)]
    [InlineData("shuffled", 0.03, true)]
    [InlineData("few levels", 0.5, true)]     // many magnitudes equal to the threshold
    [InlineData("ascending", 0.5, false)]     // the tensor's start is unlike the rest: the estimate misses, a full second pass
    [InlineData("descending", 0.3, false)]
    public void Ties_LargeTensor_ThresholdIsTheExactKthLargest_WhetherTheWindowHoldsItOrNot(string layout, double density, bool windowHolds)
    {
        // Over 2^20 elements (where the first pass counts a window of low digits), not a whole number of slices.
        int n = (1 << 21) + 12_345;
        var random = new Random(11);
        float[] baseValues = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        double[] tau = layout switch
        {
            "few levels" => Enumerable.Range(0, n).Select(_ => (random.Next(2) * 2 - 1) * 0.125 * (1 + random.Next(3))).ToArray(),
            _ => Enumerable.Range(0, n).Select(_ => (random.NextDouble() * 2 - 1) * 0.02).ToArray(),
        };
        if (layout == "ascending") tau = tau.OrderBy(Math.Abs).ToArray();
        if (layout == "descending") tau = tau.OrderByDescending(Math.Abs).ToArray();
        float[] x = baseValues.Select((b, i) => b + (float)tau[i]).ToArray();
        TensorMerge merge = TaskVectorMethod.Ties.CreateKernel([1.0], new TiesParameters { Density = density }).ForTensor("w", DType.F32, n);
        var slices = new ArraySlices(x, baseValues);
        long secondPass = -1;
        for (int pass = 0; pass < merge.StatisticsPasses; pass++)
        {
            long end = Math.Min(n, merge.PassElements(pass, n));
            if (pass == 1) secondPass = end;
            for (long start = 0; start < end; start += StreamingMerge.SliceElements)
                merge.Observe(pass, slices.At(start, (int)Math.Min(StreamingMerge.SliceElements, n - start)));
            merge.EndPass(pass);
        }
        var output = new float[n];
        for (long start = 0; start < n; start += StreamingMerge.SliceElements)
        {
            int count = (int)Math.Min(StreamingMerge.SliceElements, n - start);
            merge.Merge(slices.At(start, count), output.AsSpan((int)start, count));
        }
        // The k-th largest |x − θ₀| (as float32 bits, the order the selection uses), by sorting.
        uint[] keys = x.Select((v, i) => BitConverter.SingleToUInt32Bits(Math.Abs(v - baseValues[i]))).ToArray();
        long k = (long)Math.Floor(density * n);
        uint threshold = keys.OrderDescending().ElementAt((int)k - 1);
        int wrong = Enumerable.Range(0, n).Count(i => (keys[i] >= threshold) != (output[i] != baseValues[i]));
        Assert.Equal(0, wrong);
        Assert.Equal(windowHolds, secondPass < n); // the second pass re-read only the sample when the window held the answer
        Assert.Equal(windowHolds ? 2 : 3, merge.StatisticsPasses); // a miss counts the top digit again
    }

    /// <summary>Task vectors of a layout over <paramref name="n"/> elements (as <see cref="Ties_LargeTensor_ThresholdIsTheExactKthLargest_WhetherTheWindowHoldsItOrNot"/> draws them).</summary>
    private static double[] TaskVector(string layout, int n, Random random)
    {
        double[] tau = layout switch
        {
            // Three magnitudes, each spread over a thousandth of itself: a third of the keys inside one window bin.
            "clustered" => Enumerable.Range(0, n).Select(_ => (random.Next(2) * 2 - 1) * 0.125 * (1 + random.Next(3)) * (1 + random.NextDouble() / 1024)).ToArray(),
            _ => Enumerable.Range(0, n).Select(_ => (random.NextDouble() * 2 - 1) * 0.02).ToArray(),
        };
        if (layout == "ascending") tau = tau.OrderBy(Math.Abs).ToArray();
        return tau;
    }

    /// <summary>
    /// An expert's values over <paramref name="baseValues"/>: the base plus a task vector of <paramref name="layout"/>, or for
    /// "quantised", a bfloat16 fine-tune: the base rounded to bfloat16 moved by −3 … 3 of its bfloat16 steps (task vectors whose
    /// magnitudes take a few dozen values, most of them shared by thousands of elements).
    /// </summary>
    private static float[] Expert(string layout, float[] baseValues, Random random) => layout switch
    {
        "quantised" => baseValues.Select(b => BitConverter.UInt32BitsToSingle((uint)((int)(BitConverter.SingleToUInt32Bits(b) & 0xFFFF0000u) + (random.Next(-3, 4) << 16)))).ToArray(),
        // Values drawn apart from the base, as the merge benchmark's: bfloat16 magnitudes as varied as float32's.
        "independent" => baseValues.Select(_ => (float)(random.NextDouble() * 0.2 - 0.1)).ToArray(),
        _ => baseValues.Zip(TaskVector(layout, baseValues.Length, random), (b, d) => b + (float)d).ToArray(),
    };

    /// <summary>The base of <see cref="Expert"/>: "quantised" experts' base is rounded to bfloat16 by truncation.</summary>
    private static float[] BaseOf(string layout, float[] values) =>
        layout == "quantised" ? values.Select(b => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(b) & 0xFFFF0000u)).ToArray() : values;

    [Theory]
    [InlineData("shuffled", 0.5, OneReadEnd.MergeDeferred)]
    [InlineData("shuffled", 0.03, OneReadEnd.MergeDeferred)]
    [InlineData("clustered", 0.5, OneReadEnd.MergeAgain)]    // a third of the magnitudes near the threshold: too many to defer
    [InlineData("ascending", 0.5, OneReadEnd.StartOver)]     // the sample (the smallest magnitudes) misplaces the window
    [InlineData("quantised", 0.5, OneReadEnd.Done)]          // the provisional threshold is the answer: nothing to merge again
    [InlineData("quantised", 0.2, OneReadEnd.Done)]
    public void Ties_OneRead_EndsAsTheDataAllow_AndGivesTheBitsOfTwoReads(string layout, double density, OneReadEnd expected)
    {
        int n = (1 << 21) + 12_345;
        var random = new Random(13);
        float[] baseValues = BaseOf(layout, Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        float[] x = Expert(layout, baseValues, random);
        MergeKernel kernel = TaskVectorMethod.Ties.CreateKernel([1.0], new TiesParameters { Density = density });
        var slices = new ArraySlices(x, baseValues);
        void Passes(TensorMerge merge)
        {
            for (int pass = 0; pass < merge.StatisticsPasses; pass++)
            {
                long end = Math.Min(n, merge.PassElements(pass, n));
                for (long start = 0; start < end; start += StreamingMerge.SliceElements)
                    merge.Observe(pass, slices.At(start, (int)Math.Min(StreamingMerge.SliceElements, n - start)));
                merge.EndPass(pass);
            }
        }
        void MergeAll(TensorMerge merge, float[] into)
        {
            for (long start = 0; start < n; start += StreamingMerge.SliceElements)
            {
                int count = (int)Math.Min(StreamingMerge.SliceElements, n - start);
                merge.Merge(slices.At(start, count), into.AsSpan((int)start, count));
            }
        }
        var twoReads = new float[n];
        TensorMerge reference = kernel.ForTensor("w", DType.F32, n);
        Passes(reference);
        MergeAll(reference, twoReads);

        TensorMerge one = kernel.ForTensor("w", DType.F32, n);
        Assert.True(one.TryMergeInOneRead());
        Assert.Equal(1, one.StatisticsPasses);
        Assert.InRange(one.PassElements(0, n), 1, n / 8); // the first pass reads the sample only
        Passes(one);
        var deferred = new DeferredElements();
        deferred.Reset(1, n / 16);
        var output = new float[n];
        for (long start = 0; start < n; start += StreamingMerge.SliceElements)
        {
            int count = (int)Math.Min(StreamingMerge.SliceElements, n - start);
            one.MergeCounting(slices.At(start, count), output.AsSpan((int)start, count), deferred);
        }
        Assert.Equal(expected, one.EndOneRead(deferred));
        if (expected == OneReadEnd.MergeDeferred)
        {
            // The elements whose magnitude was inside the window are merged now; the rest were final already.
            Assert.InRange(deferred.Count, 1, n / 20);
            var late = new float[deferred.Count];
            one.Merge(deferred.Slice(0, deferred.Count), late);
            for (int j = 0; j < late.Length; j++) output[deferred.Indices[j]] = late[j];
        }
        else if (expected == OneReadEnd.MergeAgain)
        {
            Assert.True(deferred.Overflowed);
            MergeAll(one, output); // the thresholds are exact: every slice again
        }
        else
        {
            TensorMerge again = kernel.ForTensor("w", DType.F32, n); // the driver starts such a tensor over, the usual way
            Passes(again);
            MergeAll(again, output);
        }
        int differ = Enumerable.Range(0, n).Count(i => BitConverter.SingleToUInt32Bits(output[i]) != BitConverter.SingleToUInt32Bits(twoReads[i]));
        Assert.Equal(0, differ);
    }

    [Theory]
    [InlineData(DType.F32, null)]
    [InlineData(DType.BF16, null)]
    [InlineData(DType.F32, DType.BF16)] // rounded into another dtype
    public void Ties_StreamingInOneRead_WritesTheBytesOfTwoReads_WhateverTheLayout(DType dtype, DType? outputDType)
    {
        // Five tensors over 2^20 elements, for every way a one-read merge ends (deferred elements merged, the whole
        // tensor merged again, started over, nothing to merge again) in float32 and bfloat16, three experts of which one has weight 0, and an
        // output past 16 MiB (written past the page cache where the file system allows it, straight from the held output).
        var random = new Random(17);
        string[] layouts = ["shuffled", "clustered", "ascending", "quantised", "independent"];
        int[] sizes = [(1 << 21) + 12_345, (1 << 20) + 999, (1 << 21) + 1, (1 << 20) + 5, (1 << 20) + 77];
        float[][] baseValues = sizes.Select((n, t) => BaseOf(layouts[t], Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray())).ToArray();
        string WriteModel(int expert)
        {
            string path = _dir.File($"oneread-{dtype}-{outputDType}-{expert}.safetensors");
            var tensors = new List<(TensorSpec, byte[])>();
            for (int t = 0; t < sizes.Length; t++)
            {
                float[] values = expert < 0 ? baseValues[t] : Expert(layouts[t], baseValues[t], random);
                tensors.Add((new TensorSpec($"layer{t}.weight", dtype, [sizes[t]]), Synthetic.Encode(dtype, values)));
            }
            tensors.Add((new TensorSpec("step", DType.I64, []), BitConverter.GetBytes(7L)));
            return Synthetic.Write(path, [.. tensors]);
        }
        string baseModel = WriteModel(-1);
        string[] experts = [WriteModel(0), WriteModel(1), WriteModel(2)];
        string Soup(long? oneReadMemory)
        {
            string output = _dir.File($"oneread-soup-{dtype}-{outputDType}-{oneReadMemory?.ToString() ?? "default"}.safetensors");
            StreamingMerge.Merge(new SoupRequest(experts, SoupWeights.Of([0.3, 0.0, 0.7]), output, outputDType, Threads: 2, Method: TaskVectorMethod.Ties,
                Parameters: new TiesParameters { Density = 0.4 }, Base: baseModel, OneReadMemory: oneReadMemory));
            return output;
        }
        byte[] twoReads = File.ReadAllBytes(Soup(0));
        Assert.Equal(twoReads, File.ReadAllBytes(Soup(null)));
        // A budget of one set of one-read buffers (the largest tensor's output and deferred elements: 7.4–11.6 MB here)
        // for two workers: a worker that finds it taken merges its tensor in two reads.
        Assert.Equal(twoReads, File.ReadAllBytes(Soup(12_000_000)));
    }

    [Theory]
    [InlineData(3, 0.5, true, 1.0, 0)]
    [InlineData(3, 0.2, false, 1.5, 0)]
    [InlineData(4, 0.7, true, 1.0, 2)]     // an input of weight 0
    [InlineData(2, 1.0, true, 0.8, 0)]     // no trimming: sign election alone
    public void Ties_Float32_IsBitForBitTheScalarDefinition(int inputs, double density, bool normalize, double lambda, int zeroWeight)
    {
        // Over 2^20 elements (the windowed selection) and not a multiple of any vector width: the vector loops and their tails.
        int n = (1 << 20) + 4_099;
        var random = new Random(inputs * 31 + zeroWeight);
        float[] b = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        // Task vectors with shared signs and scales, exact zeros and ties of magnitude, as fine-tuned experts have.
        float[][] x = Enumerable.Range(0, inputs).Select(k => b.Select((v, i) => i % 97 == 0 ? v
            : v + (float)Math.Round((random.NextDouble() - 0.45 + 0.1 * k) * 0.02, k == 1 ? 3 : 7)).ToArray()).ToArray();
        double[] w = Enumerable.Range(0, inputs).Select(k => k == zeroWeight && zeroWeight > 0 ? 0 : 1.0 + k).ToArray();
        w = w.Select(v => v / w.Sum()).ToArray();
        var parameters = new TiesParameters { Density = density, Normalize = normalize, Lambda = lambda };
        var merged = new float[n];
        new MemoryMerge(inputs, SoupWeights.Of(w), TaskVectorMethod.Ties, parameters, hasBase: true).Tensor("w", x, b, merged);

        // The definition, element by element in float32: δₖ = λₖ · (xₖ − θ₀) kept where |xₖ − θ₀| is at least the
        // k-th largest (by sorting), the elected sign of Σ δₖ (≥ 0 is +), the agreeing δₖ summed in input order and
        // divided by their weights' sum, θ₀ + lambda · that.
        var keep = new uint[inputs];
        for (int k = 0; k < inputs; k++)
        {
            uint[] keys = x[k].Select((v, i) => BitConverter.SingleToUInt32Bits(Math.Abs(v - b[i]))).OrderDescending().ToArray();
            keep[k] = density >= 1 ? 0 : keys[Math.Max(1, (int)Math.Floor(density * n)) - 1];
        }
        int differ = 0;
        var delta = new float[inputs];
        for (int i = 0; i < n; i++)
        {
            float total = 0;
            for (int k = 0; k < inputs; k++)
            {
                float d = 0;
                if (w[k] != 0)
                {
                    d = x[k][i] - b[i];
                    if ((BitConverter.SingleToUInt32Bits(d) & 0x7FFF_FFFFu) < keep[k]) d = 0;
                    d *= (float)w[k];
                }
                delta[k] = d;
                total += d;
            }
            float expected = Elect(delta, total, w, normalize, (float)lambda, b[i]);
            if (BitConverter.SingleToUInt32Bits(expected) != BitConverter.SingleToUInt32Bits(merged[i])) differ++;
        }
        Assert.Equal(0, differ);
    }

    /// <summary>
    /// The scalar definition of TIES' sign election in float32, for one element: the sign of <paramref name="total"/>
    /// (Σ δₖ; ≥ 0 is +), the agreeing δₖ summed in input order (÷ the sum of their weights with normalize), θ₀ + lambda · that.
    /// </summary>
    private static float Elect(float[] delta, float total, double[] w, bool normalize, float lambda, float baseValue)
    {
        float mixed = 0, weight = 0;
        for (int k = 0; k < delta.Length; k++)
        {
            if (w[k] == 0 || !(total >= 0 ? delta[k] > 0 : delta[k] < 0)) continue;
            mixed += delta[k];
            weight += (float)w[k];
        }
        if (normalize && weight != 0) mixed /= weight;
        return mixed * lambda + baseValue;
    }

    [Theory]
    [InlineData(DType.F32, 0.3)]
    [InlineData(DType.F64, 0.3)]
    [InlineData(DType.F32, 0.01)]
    [InlineData(DType.BF16, 0.2)]
    public void Ties_OverManySlices_KeepsExactlyTheTopShare(DType dtype, double density)
    {
        // 100,003 elements: four slices, so the threshold is found across slices by the radix selection.
        var random = new Random(5);
        int n = 100_003;
        float[] init = new float[n], tuned = new float[n];
        for (int i = 0; i < n; i++)
        {
            init[i] = (float)random.NextDouble();
            tuned[i] = init[i] + (float)(random.NextDouble() * 2 - 1);
        }
        string b = Write(init, dtype), x = Write(tuned, dtype);
        float[] bv = Read(b), xv = Read(x), soup = Read(Merge(TaskVectorMethod.Ties, [x], [1], new TiesParameters { Density = density }, b));
        var kept = new List<double>();
        var dropped = new List<double>();
        for (int i = 0; i < n; i++)
        {
            double tau = Math.Abs((double)xv[i] - bv[i]);
            if (tau == 0) continue; // (BF16) the same value in both: nothing to keep or drop
            if (soup[i] == bv[i]) dropped.Add(tau);
            else kept.Add(tau);
        }
        long k = (long)Math.Floor(density * n);
        if (dtype != DType.BF16) Assert.Equal(k, kept.Count); // BF16 values tie often; ties at the threshold are all kept
        else Assert.InRange(kept.Count, k, k + n / 100);
        Assert.True(kept.Min() >= dropped.Max(), $"a kept |τ| {kept.Min()} is below a dropped one {dropped.Max()}");
    }

    [Fact]
    public void Dare_DensityOne_IsTaskArithmetic_BitForBit()
    {
        var random = new Random(2);
        float[] V() => Enumerable.Range(0, 5000).Select(_ => (float)random.NextDouble()).ToArray();
        string b = Write(V()), x = Write(V()), y = Write(V());
        float[] expected = Read(Merge(TaskVectorMethod.TaskArithmetic, [x, y], [0.3, 0.7], baseModel: b));
        Assert.Equal(expected, Read(Merge(TaskVectorMethod.DareLinear, [x, y], [0.3, 0.7], baseModel: b)));
    }

    [Fact]
    public void Dare_KeepsTheDensityShareRescaled_SameSeedSameBytes_SeedRecorded()
    {
        int n = 200_000;
        string b = Write(new float[n]), x = Write(Enumerable.Repeat(1f, n).ToArray());
        var p = new DareParameters { Density = 0.25, Seed = 11 };
        string first = Merge(TaskVectorMethod.DareLinear, [x], [1], p, b, threads: 1), second = Merge(TaskVectorMethod.DareLinear, [x], [1], p, b, threads: 2);
        float[] soup = Read(first);
        int kept = soup.Count(v => v != 0);
        Assert.InRange(kept, n * 0.25 - 1000, n * 0.25 + 1000); // binomial sd ≈ 194
        Assert.All(soup.Where(v => v != 0), v => Assert.Equal(4f, v)); // 1 · 1/0.25
        Assert.Equal(soup, Read(second));                                 // threads do not change the draw
        Assert.NotEqual(soup, Read(Merge(TaskVectorMethod.DareLinear, [x], [1], p with { Seed = 12 }, b)));
        Assert.Equal(n / 4.0, Read(Merge(TaskVectorMethod.DareLinear, [x], [1], p with { Rescale = false }, b)).Sum(), n * 0.005); // no rescale: the kept ones stay 1
        using Checkpoint c = Checkpoint.Open(first);
        JsonElement recorded = JsonDocument.Parse(c.Metadata["soup.parameters"]).RootElement;
        Assert.Equal(11, recorded.GetProperty("seed").GetInt64());
        Assert.Equal(0.25, recorded.GetProperty("density").GetDouble());
        Assert.Equal("dare_linear", c.Metadata["soup.method"]);
        Assert.Equal("2", c.Metadata["soup.method_revision"]); // paired draws: not the bytes of a revision-1 build
        using (Checkpoint ties = Checkpoint.Open(Merge(TaskVectorMethod.Ties, [x], [1], new TiesParameters { Density = 0.5 }, b)))
            Assert.False(ties.Metadata.ContainsKey("soup.method_revision"));                   // rules never changed carry none
        using Checkpoint baseCheckpoint = Checkpoint.Open(b);
        Assert.Contains(baseCheckpoint.HeaderSha256, c.Metadata["soup.base"]);
    }

    [Fact]
    public void Dare_PairedDraws_AreIndependent_WithinAPair_AcrossPairs_AndAcrossInputs()
    {
        // Elements 2p and 2p + 1 share one 64-bit hash (its two halves): their keeps must still be independent,
        // as must neighbours across pairs and two inputs' keeps of one element. Constant values leave only the
        // position in the hash, the hardest case.
        int n = 200_000;
        double d = 0.25;
        string b = Write(new float[n]), x = Write(Enumerable.Repeat(1f, n).ToArray()), y = Write(Enumerable.Repeat(2f, n).ToArray());
        var p = new DareParameters { Density = d, Seed = 3 };
        bool[] kx = Read(Merge(TaskVectorMethod.DareLinear, [x], [1], p, b)).Select(v => v != 0).ToArray();
        bool[] ky = Read(Merge(TaskVectorMethod.DareLinear, [y], [1], p, b)).Select(v => v != 0).ToArray();
        int within = Enumerable.Range(0, n / 2).Count(q => kx[2 * q] && kx[2 * q + 1]);
        int across = Enumerable.Range(0, n / 2 - 1).Count(q => kx[2 * q + 1] && kx[2 * q + 2]);
        int inputs = Enumerable.Range(0, n).Count(i => kx[i] && ky[i]);
        Assert.InRange(within, n / 2 * d * d - 400, n / 2 * d * d + 400);   // 6,250, binomial sd ≈ 77
        Assert.InRange(across, n / 2 * d * d - 400, n / 2 * d * d + 400);
        Assert.InRange(inputs, n * d * d - 600, n * d * d + 600);           // 12,500, sd ≈ 108
        Assert.InRange(kx.Where((_, i) => i % 2 == 1).Count(k => k), n / 2 * d - 500, n / 2 * d + 500); // the high halves keep the density share too
    }

    [Fact]
    public void Slerp_EndsAreTheInputsBitForBit_ColinearIsLinear_OrthogonalFollowsTheArc()
    {
        var slerp = MergeMethods.Get("slerp");
        string a = Write([1, 0, -0f]), c = Write([0, 1, 0]);
        Assert.Equal(Read(a), Read(Merge(slerp, [a, c], null, new SlerpParameters { T = 0 })));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(Read(Merge(slerp, [a, c], null, new SlerpParameters { T = 0 }))[2]));
        Assert.Equal(Read(c), Read(Merge(slerp, [a, c], null, new SlerpParameters { T = 1 })));
        float h = (float)Math.Sin(Math.PI / 4);
        Near([h, h, 0], Read(Merge(slerp, [a, c], null, new SlerpParameters { T = 0.5 })));
        Near([(float)Math.Sin(Math.PI / 2 * 0.7), (float)Math.Sin(Math.PI / 2 * 0.3), 0], Read(Merge(slerp, [a, c], [0.7, 0.3]))); // t = λ₂
        string d = Write([2, 4, 6]), e = Write([1, 2, 3.0001f]);                                                                     // nearly colinear
        Near([1.25f, 2.5f, 3.750075f], Read(Merge(slerp, [d, e], null, new SlerpParameters { T = 0.75 })));
    }

    [Fact]
    public void Linear_IsUnchanged_AndOneHotCopiesTheInput()
    {
        string a = Write([1, -0f, 3]), c = Write([5, 6, 7]);
        Near([1.8f, 1.2f, 3.8f], Read(Merge(MergeMethods.Linear, [a, c], [0.8, 0.2])));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(Read(Merge(MergeMethods.Linear, [a, c], [1, 0]))[1]));
    }

    public static TheoryData<string> Methods() => new(MergeMethods.All.Select(m => m.Name));

    /// <summary>Every value reported, in order, on the reporting thread (Progress&lt;T&gt; would post them elsewhere).</summary>
    private sealed class Recorder : IProgress<long>
    {
        public System.Collections.Concurrent.ConcurrentQueue<long> Values { get; } = new();

        public void Report(long value) => Values.Enqueue(value);
    }

    [Theory]
    [InlineData("linear", 0)]
    [InlineData("ties", 2)]
    [InlineData("slerp", 1)]
    public void Progress_CountsTheStatisticsPasses_AndEndsAtTheOutputSize(string name, int passes)
    {
        IMergeMethod method = MergeMethods.Get(name);
        var random = new Random(5);
        float[] V() => Enumerable.Range(0, 600_000).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(); // two batches
        string[] inputs = Enumerable.Range(0, method.Inputs ?? 2).Select(_ => Write(V())).ToArray();
        var recorder = new Recorder();
        StreamingMerge.Merge(new SoupRequest(inputs, [0.4, 0.6], _dir.File("progress.safetensors"), Threads: 1, Method: method, Parameters: Parameters(method, density: 0.5, seed: 1),
            Base: method.NeedsBase ? Write(V()) : null), recorder);
        long total = 600_000 * 4 + 8;                       // the output: w (F32) and the step counter
        long[] values = [.. recorder.Values];
        Assert.Equal(total, values[^1]);
        Assert.True(values.Zip(values.Skip(1)).All(p => p.First <= p.Second), "one worker's reports never go back");
        // One report per statistics pass of "w" before any merge: the k-th at k/(passes + 1) of its share of the work.
        long w = 600_000 * 4, work = w * (passes + 1) + 8;
        long[] expectedPasses = [.. Enumerable.Range(1, passes).Select(k => (long)((double)(w * k) / work * total))];
        Assert.Equal(expectedPasses, values.Take(passes));
    }

    /// <summary>A method's defaults with trimming and drops that bite (density below 1), a seed, and slerp's t when given.</summary>
    private static ISettingsSection Parameters(IMergeMethod method, double density, int seed, double? t = null) => method.DefaultParameters switch
    {
        TiesParameters p => p with { Density = density },
        DareParameters p => p with { Density = density, Seed = seed },
        SlerpParameters when t is not null => new SlerpParameters { T = t },
        var p => p,
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryMethod_IsInvariantToTheOrderOfItsInputs(string name)
    {
        IMergeMethod method = MergeMethods.Get(name);
        ISettingsSection parameters = Parameters(method, density: 0.6, seed: 3);
        int inputs = method.Inputs ?? 3;
        Gen.Int[0, 1_000_000].Sample(seed =>
        {
            var random = new Random(seed);
            float[] V() => Enumerable.Range(0, 64).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            string[] paths = Enumerable.Range(0, inputs).Select(_ => Write(V())).ToArray();
            string? b = method.NeedsBase ? Write(V()) : null;
            double[] w = Enumerable.Range(0, inputs).Select(_ => random.NextDouble() + 0.05).ToArray();
            w = w.Select(x => x / w.Sum()).ToArray();
            w[^1] = 1 - w[..^1].Sum();
            int[] order = Enumerable.Range(0, inputs).OrderBy(_ => random.Next()).ToArray();
            float[] straight = Read(Merge(method, paths, SoupWeights.Of(w), parameters, b));
            float[] permuted = Read(Merge(method, order.Select(i => paths[i]).ToArray(), SoupWeights.Of(order.Select(i => w[i])), parameters, b));
            Near(straight, permuted, 1e-5);
        }, iter: 15);
    }

    [Fact]
    public void BadRequests_AreOneLineErrors_AndWriteNothing()
    {
        string a = Write([1, 2]), c = Write([3, 4]), e = Write([5, 6]), wrongShape = Write([1, 2, 3]);
        string output = _dir.File("never.safetensors");
        SoupInputException Fails(SoupRequest r) => Assert.Throws<SoupInputException>(() => StreamingMerge.Merge(r));
        Assert.Contains("needs the shared init", Fails(new SoupRequest([a, c], null, output, Method: TaskVectorMethod.Ties)).Message);
        Assert.Contains("takes no base", Fails(new SoupRequest([a, c], null, output, Base: e)).Message);
        Assert.Contains("exactly 2 models, got 3", Fails(new SoupRequest([a, c, e], null, output, Method: MergeMethods.Get("slerp"))).Message);
        string mismatch = Fails(new SoupRequest([a, c], null, output, Method: TaskVectorMethod.TaskArithmetic, Base: wrongShape)).Message;
        Assert.Contains("the base", mismatch);
        Assert.Contains("shape", mismatch);
        Assert.Contains("ties.density", Fails(new SoupRequest([a, c], null, output, Method: TaskVectorMethod.Ties, Parameters: new TiesParameters { Density = 0 }, Base: e)).Message);
        Assert.Contains("ties.density", Fails(new SoupRequest([a, c], null, output, Method: TaskVectorMethod.Ties, Parameters: new TiesParameters { Density = 1.5 }, Base: e)).Message);
        Assert.Contains("unknown merge method 'magic'", Assert.Throws<SoupInputException>(() => MergeMethods.Get("magic")).Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir.Path, ".never*"));
    }

    [Fact]
    public void Parameters_AreReadFromASectionStrictly()
    {
        var reader = new ConfigReader("test.yaml");
        var section = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""{"density": 0.4, "seed": 9}""")!;
        var dare = (DareParameters)MergeMethods.ReadParameters(TaskVectorMethod.DareTies, section, reader, "soups.methods[0]");
        Assert.Equal((0.4, 9L, true, false), (dare.Density, dare.Seed, dare.Rescale, dare.Normalize));
        var ties = (TiesParameters)MergeMethods.ReadParameters(TaskVectorMethod.Ties, null, reader, "x");
        Assert.Equal((1.0, true, 1.0), (ties.Density, ties.Normalize, ties.Lambda)); // mergekit's defaults
        var unknown = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""{"seed": 1}""")!;
        string message = Assert.Throws<SoupInputException>(() => MergeMethods.ReadParameters(TaskVectorMethod.Ties, unknown, reader, "soups.methods[1]")).Message;
        Assert.Contains("soups.methods[1].seed", message);
        Assert.Contains("lambda, normalize, density", message);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void MemoryMerge_HoldsTheValuesTheFileMergeWrites(string name)
    {
        IMergeMethod method = MergeMethods.Get(name);
        ISettingsSection parameters = Parameters(method, density: 0.3, seed: 4, t: 0.3);
        var random = new Random(9);
        float[] V() => Enumerable.Range(0, 70_001).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(); // three slices
        int inputs = method.Inputs ?? 3;
        float[][] values = Enumerable.Range(0, inputs).Select(_ => V()).ToArray();
        float[]? baseValues = method.NeedsBase ? V() : null;
        SoupWeights? weights = method.Inputs is null ? [0.2, 0.5, 0.3] : null;
        float[] file = Read(Merge(method, values.Select(v => Write(v)).ToArray(), weights, parameters, baseValues is null ? null : Write(baseValues)));
        var memory = new float[file.Length];
        new MemoryMerge(inputs, weights, method, parameters, hasBase: baseValues is not null).Tensor("w", values, baseValues, memory);
        Assert.Equal(file, memory);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void BFloat16Files_MergeBitForBitAsTheirValuesStoredInFloat32(string name)
    {
        // Kernels read bfloat16 slices as stored and widen them in registers; a float32 file of the same values goes
        // through the same arithmetic on the values as they are: both merges must write the same float32 bits. Over
        // 2^20 elements (the windowed selection) and not a multiple of any vector width.
        IMergeMethod method = MergeMethods.Get(name);
        ISettingsSection parameters = Parameters(method, density: 0.3, seed: 4, t: 0.3);
        var random = new Random(17);
        int n = (1 << 20) + 4_099;
        float[] init = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] Tuned() => init.Select(v => v + (float)((random.NextDouble() - 0.5) * 0.05)).ToArray();
        float[] Exact(float[] v) => Synthetic.Decode(DType.BF16, Synthetic.Encode(DType.BF16, v)); // the values a bfloat16 file holds
        int inputs = method.Inputs ?? 3;
        float[][] values = Enumerable.Range(0, inputs).Select(_ => Exact(Tuned())).ToArray();
        float[]? baseValues = method.NeedsBase ? Exact(init) : null;
        SoupWeights? weights = method.Inputs is null ? [0.2, 0.5, 0.3] : null;
        string[] Files(DType dtype) => values.Select(v => Write(v, dtype)).ToArray();
        string? Base(DType dtype) => baseValues is null ? null : Write(baseValues, dtype);

        float[] fromBFloat16 = Read(Merge(method, Files(DType.BF16), weights, parameters, Base(DType.BF16), outputDType: DType.F32));
        float[] fromSingle = Read(Merge(method, Files(DType.F32), weights, parameters, Base(DType.F32), outputDType: DType.F32));

        Assert.Equal(fromSingle.Select(BitConverter.SingleToUInt32Bits), fromBFloat16.Select(BitConverter.SingleToUInt32Bits));
        Assert.Contains(fromSingle.Select((v, i) => (v, i)), p => p.v != values[0][p.i]); // a merge, not a copy of an input
    }

    [Theory]
    [InlineData(0.5, true, false, 0)]
    [InlineData(0.3, false, true, 0)]
    [InlineData(0.7, true, true, 1)]    // an input of weight 0
    public void DareTies_Float32_IsBitForBitTheScalarDefinition(double density, bool rescale, bool normalize, int zeroWeight)
    {
        int n = 70_001;   // three slices, not a multiple of any vector width
        var random = new Random(41 + zeroWeight);
        float[] b = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[][] x = Enumerable.Range(0, 3).Select(k => b.Select((v, i) => i % 89 == 0 ? v
            : v + (float)((random.NextDouble() - 0.45 + 0.1 * k) * 0.02)).ToArray()).ToArray();
        double[] w = zeroWeight > 0 ? [0.4, 0, 0.6] : [0.2, 0.3, 0.5];
        var parameters = new DareParameters { Density = density, Rescale = rescale, Normalize = normalize, Seed = 9, Lambda = 0.9 };
        var merged = new float[n];
        new MemoryMerge(3, SoupWeights.Of(w), TaskVectorMethod.DareTies, parameters, hasBase: true).Tensor("w", x, b, merged);

        // The definition in float32: δₖ = (xₖ − θ₀) where DARE's draw keeps it, else 0, times λₖ (÷ density with
        // rescaling); the elected sign of Σ δₖ (≥ 0 is +), the agreeing δₖ summed (÷ their weights with normalize); θ₀ + lambda · that.
        int differ = 0;
        var delta = new float[3];
        for (int i = 0; i < n; i++)
        {
            float total = 0;
            for (int k = 0; k < 3; k++)
            {
                float d = 0;
                if (w[k] != 0)
                {
                    d = x[k][i] - b[i];
                    if (!TaskVectorMethod.Keeps(9, "w", x[k], i, density)) d = 0;
                    d *= (float)(w[k] * (rescale ? 1 / density : 1));
                }
                delta[k] = d;
                total += d;
            }
            float expected = Elect(delta, total, w, normalize, 0.9f, b[i]);
            if (BitConverter.SingleToUInt32Bits(expected) != BitConverter.SingleToUInt32Bits(merged[i])) differ++;
        }
        Assert.Equal(0, differ);
    }

    [Fact]
    public void Dare_VectorDraws_AreTheScalarRule()
    {
        var random = new Random(3);
        float[] x = Enumerable.Range(0, 1003).Select(_ => (float)random.NextDouble() + 1).ToArray(); // not a multiple of any vector width
        string b = Write(new float[x.Length]), input = Write(x);
        float[] soup = Read(Merge(TaskVectorMethod.DareLinear, [input], [1], new DareParameters { Density = 0.4, Seed = 5, Rescale = false }, b));
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(TaskVectorMethod.Keeps(5, "w", x, i, 0.4) ? x[i] : 0, soup[i]);
    }
}
