using System.Diagnostics;
using System.Globalization;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Soup;
using RewardedSoups.Tasks.Image;
using static TorchSharp.torch;

namespace RewardedSoups.Bench;

/// <summary>
/// The image task's throughput, as ratios measured in one run. <c>image</c>: for a U-Net of the given
/// size, the rate of single forward passes (images/s, batch 100) is the unit; sampling (DDIM, S steps,
/// guidance: 2·S forward passes per image) and training (forward + backward of the denoising loss)
/// are reported against it. Sampling should cost no more than ≈ 2·S forwards (ratio ≈ 1), training
/// about 3 forwards per image. Alternated, best of each reported.
/// <c>image --experiment DIR</c>: times the whole study at a size (pre-training, two experts, three MORL
/// fine-tunings, eleven soups evaluated), the numbers docs/images.md quotes.
/// Usage: RewardedSoups.Bench image [--channels 32] [--steps 10] [--runs 3] [--threads 0]
///        RewardedSoups.Bench image --experiment DIR [--size built-in] [--seed 1]
/// </summary>
public static class ImageBenchmark
{
    private static readonly TorchSharp.Scalar FiveHundred = 500f;

    public static int Run(string[] args)
    {
        int threads = int.Parse(Program.Option(args, "--threads", "0"), CultureInfo.InvariantCulture);
        if (threads > 0) set_num_threads(threads);
        string? experiment = Program.Option(args, "--experiment", "") is { Length: > 0 } e ? e : null;
        if (experiment is not null) return Experiment(experiment, Program.Option(args, "--size", "built-in"), int.Parse(Program.Option(args, "--seed", "1"), CultureInfo.InvariantCulture));

        int channels = int.Parse(Program.Option(args, "--channels", "32"), CultureInfo.InvariantCulture);
        int steps = int.Parse(Program.Option(args, "--steps", "10"), CultureInfo.InvariantCulture);
        int runs = int.Parse(Program.Option(args, "--runs", "3"), CultureInfo.InvariantCulture);
        random.manual_seed(1);
        using var model = new DiffusionUNet(channels);
        const int batch = 100;
        var sampler = new SamplerSettings { Steps = steps, Guidance = 3.0 };
        var forward = new List<double>();
        var sample = new List<double>();
        var train = new List<double>();
        ForwardRate(model, batch); // warm-up
        for (int r = 0; r < runs; r++)
        {
            forward.Add(ForwardRate(model, batch));
            sample.Add(SampleRate(model, batch, sampler, seed: r));
            train.Add(TrainRate(model, batch: 64, stepsCount: 10));
            Console.Error.WriteLine($"run {r + 1}: forward {forward[^1]:F0} img/s, sampling {sample[^1]:F1} img/s, training {train[^1]:F0} img/s");
        }
        double f = forward.Max(), s = sample.Max(), t = train.Max();
        Console.WriteLine();
        Console.WriteLine($"U-Net C={channels}: {model.ParameterCount():N0} parameters; {get_num_threads()} libtorch threads");
        Console.WriteLine("| forward passes (best, img/s) | sampling, DDIM " + steps + " steps + guidance (best, img/s) | sampling cost in forwards per image (ideal 2·S = " + 2 * steps + ") | training (best, img/s) | training cost in forwards per image |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {f:F0} | {s:F1} | **{f / s:F1}** | {t:F0} | **{f / t:F2}** |"));
        return 0;
    }

    private static double ForwardRate(DiffusionUNet model, int batch)
    {
        using var noGrad = no_grad();
        model.eval();
        var clock = Stopwatch.StartNew();
        const int passes = 10;
        for (int i = 0; i < passes; i++)
        {
            using var scope = NewDisposeScope();
            model.Forward(randn(batch, 1, 28, 28), full([batch], FiveHundred), zeros([batch], dtype: int64));
        }
        return passes * batch / clock.Elapsed.TotalSeconds;
    }

    private static double SampleRate(DiffusionUNet model, int batch, SamplerSettings sampler, int seed)
    {
        var clock = Stopwatch.StartNew();
        float[][] images = ImageEvaluation.Sample(model, prompt: seed % 10, count: batch, seed, sampler);
        return images.Length / clock.Elapsed.TotalSeconds;
    }

    private static double TrainRate(DiffusionUNet model, int batch, int stepsCount)
    {
        model.train();
        var generator = new Generator(1);
        using var optimizer = KeptAliveAdam.Adam(model.parameters(), lr: 1e-4);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < stepsCount; i++)
        {
            using var scope = NewDisposeScope();
            Tensor loss = Diffusion.Loss(model, randn(batch, 1, 28, 28).clamp(Scalars.MinusOne, Scalars.One), randint(10, [batch], dtype: int64), 0.1, generator).mean();
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        model.eval();
        return stepsCount * batch / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The whole study at one size, timed phase by phase: what a runner would do, without the runner.</summary>
    private static int Experiment(string dir, string size, int seed)
    {
        ImageTaskSettings settings = ImageTaskSettings.Size(size);
        settings.Validate();
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        string init = Path.Combine(dir, "init");
        ImagePretrainResult pre = ImagePretraining.Run(init, new ImagePretrainSpec(settings.Pretrain, seed, settings.Sampler),
            p => Console.Error.WriteLine($"  {p.Phase} {p.Step}/{p.Total} loss {p.Loss:F4}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pretrain: {clock.Elapsed.TotalSeconds:F0} s; classifier test accuracy {pre.ClassifierAccuracy:P1}; init fidelity {pre.Quality.Fidelity:F3}, prompt accuracy {pre.Quality.PromptAccuracy:P1}, minimalism {pre.Quality.Minimalism:F3}"));
        Console.WriteLine("  per prompt (fidelity / accuracy): " + string.Join("; ", Enumerable.Range(0, 10).Select(p =>
            string.Create(CultureInfo.InvariantCulture, $"{FashionMnist.ClassNames[p]} {pre.Quality.FidelityPerPrompt[p]:F2}/{pre.Quality.PromptAccuracyPerPrompt[p]:P0}"))));

        RewardFunction[] experts = [ImageRewards.Reward(ImageRewards.Fidelity), ImageRewards.Reward(ImageRewards.Minimalism)];
        var models = new List<(string Label, string Path)> { ("init", pre.ModelPath) };
        foreach (RewardFunction reward in experts)
        {
            clock.Restart();
            ImageFineTuneResult r = ImageFineTune.Run(Path.Combine(dir, "expert-" + reward.Name), new ImageFineTuneSpec(init, reward, settings.FineTune, seed),
                p => Console.Error.WriteLine($"  {p.Phase} {p.Step}/{p.Total} reward {p.Reward:F4} loss {p.Loss:F4}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"expert {reward.Name}: {clock.Elapsed.TotalSeconds:F0} s, {r.ImagesGenerated} images generated"));
            models.Add((reward.Name, r.ModelPath));
        }
        foreach (double mu in new[] { 0.25, 0.5, 0.75 })
        {
            clock.Restart();
            RewardFunction reward = RewardFunction.Scalarise(experts, [mu, 1 - mu]);
            ImageFineTuneResult r = ImageFineTune.Run(Path.Combine(dir, "morl-" + mu.ToString("F2", CultureInfo.InvariantCulture)), new ImageFineTuneSpec(init, reward, settings.FineTune, seed));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"MORL μ=({mu:F2},{1 - mu:F2}): {clock.Elapsed.TotalSeconds:F0} s"));
            models.Add((reward.Name, r.ModelPath));
        }
        string classifier = pre.ClassifierPath;
        Console.WriteLine("| model | fidelity | minimalism | prompt accuracy | eval s |");
        Console.WriteLine("|---|---|---|---|---|");
        void Eval(string label, string path)
        {
            var c = Stopwatch.StartNew();
            ImageEvaluationResult e = ImageEvaluation.Evaluate(path, classifier, settings.EvalSamplesPerPrompt, seed: 1000 + seed, settings.Sampler);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {e.Mean(ImageRewards.Fidelity):F3} | {e.Mean(ImageRewards.Minimalism):F3} | {e.PromptAccuracy:P1} | {c.Elapsed.TotalSeconds:F1} |"));
        }
        foreach ((string label, string path) in models) Eval(label, path);
        for (int i = 0; i <= 10; i++)
        {
            double lambda = i / 10.0;
            string soup = Path.Combine(dir, "soups", $"soup-{lambda:F1}.safetensors".Replace(',', '.'));
            Directory.CreateDirectory(Path.GetDirectoryName(soup)!);
            if (!File.Exists(soup)) StreamingMerge.Merge(new SoupRequest([models[1].Path, models[2].Path], [lambda, 1 - lambda], soup));
            Eval(string.Create(CultureInfo.InvariantCulture, $"soup λ=({lambda:F1},{1 - lambda:F1})"), soup);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"total: {total.Elapsed.TotalMinutes:F1} min"));
        return 0;
    }
}
