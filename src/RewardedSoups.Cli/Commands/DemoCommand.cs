using System.CommandLine;
using System.Runtime.InteropServices;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;
using RewardedSoups.Soup;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup demo</c>. The product's demo (pre-train a locomotion policy on MuJoCo, fine-tune one expert
/// per reward with PPO, soup them, compare the front with MORL) lands with the pipeline issue. Until
/// then the demo says so and runs what exists for real: it writes two small checkpoints, makes soups
/// of them along λ with the streaming engine, and checks each soup against the interpolation formula.
/// </summary>
public static class DemoCommand
{
    public static Command Create(CommandContext context)
    {
        var output = new Option<string>("--out")
        {
            Description = "Folder for the demo's files.",
            DefaultValueFactory = _ => Path.Combine("runs", "demo"),
        };
        var command = new Command("demo", "Run the built-in demonstration.") { output };
        command.SetAction(parsed => context.Run(() =>
        {
            string dir = parsed.GetValue(output)!;
            Directory.CreateDirectory(dir);
            TextWriter o = context.Out;
            o.WriteLine("RewardedSoups demo: what exists so far");
            o.WriteLine("  The full demo (PPO experts on MuJoCo, soups along λ, RS vs MORL fronts, report) is not built yet;");
            o.WriteLine("  it arrives with the locomotion and pipeline issues. Today: checkpoints, the soup engine, Pareto mathematics.");
            o.WriteLine();
            string a = Path.Combine(dir, "expert-1.safetensors");
            string b = Path.Combine(dir, "expert-2.safetensors");
            WriteSynthetic(a, seed: 1);
            WriteSynthetic(b, seed: 2);
            o.WriteLine($"  wrote two synthetic BF16 checkpoints (random weights, a shared step counter): {a}, {b}");
            using SafetensorsFile fa = SafetensorsFile.Open(a);
            using SafetensorsFile fb = SafetensorsFile.Open(b);
            foreach (double lambda in new[] { 0.0, 0.25, 0.5, 0.75, 1.0 })
            {
                string soup = Path.Combine(dir, $"soup-{lambda:F2}.safetensors");
                LinearSoup.Merge(new SoupRequest([a, b], [1 - lambda, lambda], soup), cancel: context.Cancel);
                using SafetensorsFile fs = SafetensorsFile.Open(soup);
                double worst = 0;
                foreach (TensorInfo t in fs.Tensors.Where(t => t.DType.IsFloat()))
                {
                    float[] x = ToFloats(fa, t.Name), y = ToFloats(fb, t.Name), s = ToFloats(fs, t.Name);
                    for (int i = 0; i < s.Length; i++)
                    {
                        // BF16 keeps 8 significant bits: the soup must be the formula rounded once.
                        float expected = BFloat16.ToSingle(BFloat16.FromSingle((float)(1 - lambda) * x[i] + (float)lambda * y[i]));
                        worst = Math.Max(worst, Math.Abs(s[i] - expected));
                    }
                }
                o.WriteLine($"  λ = {lambda:F2}: {soup}  max |θ(λ) − round((1−λ)θ₁ + λθ₂)| = {worst:G3}");
            }
            o.WriteLine();
            o.WriteLine("  Try: ./soup inspect " + Path.Combine(dir, "soup-0.50.safetensors"));
            o.WriteLine("       ./soup merge -o my-soup.safetensors --weights 0.3,0.7 " + a + " " + b);
            o.WriteLine("       ./soup front points.csv --ref 0,0");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static void WriteSynthetic(string path, int seed)
    {
        var random = new Random(seed);
        (string Name, long[] Shape)[] layers = [("actor_mean.0.weight", [64, 17]), ("actor_mean.0.bias", [64]), ("actor_mean.2.weight", [6, 64]), ("actor_logstd", [1, 6])];
        var tensors = new List<(TensorSpec, byte[])>();
        foreach ((string name, long[] shape) in layers)
        {
            var values = new float[shape.Aggregate(1L, (p, d) => p * d)];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            var bits = new ushort[values.Length];
            BFloat16.FromSingle(values, bits);
            tensors.Add((new TensorSpec(name, DType.BF16, shape), MemoryMarshal.AsBytes(bits.AsSpan()).ToArray()));
        }
        tensors.Add((new TensorSpec("global_step", DType.I64, []), BitConverter.GetBytes(1000L)));
        SafetensorsWriter.WriteFile(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["synthetic"] = "true" });
    }

    private static float[] ToFloats(SafetensorsFile file, string name)
    {
        byte[] raw = file.ReadAll(name);
        var values = new float[raw.Length / 2];
        ElementConversion.ToSingle(DType.BF16, raw, values);
        return values;
    }
}
