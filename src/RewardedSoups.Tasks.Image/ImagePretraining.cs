using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RewardedSoups.Jobs;
using RewardedSoups.Learning;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>What one line of progress says: a phase (<c>classifier</c>, <c>pretrain</c>, <c>generate</c>, <c>fine-tune</c>), where it is, and its numbers.</summary>
/// <param name="Phase">What is running.</param>
/// <param name="Step">Step (or round) done.</param>
/// <param name="Total">Steps (or rounds) of the phase.</param>
/// <param name="Loss">Mean training loss of the step or round (NaN when none).</param>
/// <param name="Reward">Mean reward of the round's generated images (NaN outside fine-tuning).</param>
/// <param name="ImagesGenerated">Images generated so far by the job (its cost).</param>
public sealed record ImageProgress(string Phase, int Step, int Total, double Loss, double Reward, long ImagesGenerated);

/// <summary>The shared init to pre-train: its settings, seed, and the sampler its quality is measured with.</summary>
public sealed record ImagePretrainSpec(ImagePretrainSettings Settings, int Seed, SamplerSettings? QualitySampler = null)
{
    public SamplerSettings ResolvedSampler => QualitySampler ?? new SamplerSettings();
}

/// <summary>What a pre-training left: the two files, the classifier's test accuracy and the init's quality.</summary>
/// <param name="ModelPath">The diffusion model (<c>model.safetensors</c>), what experts are fine-tuned from.</param>
/// <param name="ClassifierPath">The frozen classifier (<c>classifier.safetensors</c>), the reward model of the task.</param>
/// <param name="ClassifierAccuracy">Classifier accuracy on the 10,000 test images.</param>
/// <param name="Quality">The init's samples scored (see <see cref="ImagePretraining.QualityFile"/>).</param>
/// <param name="Resumed">True when the folder already held a finished pre-training.</param>
/// <param name="CheckerPath">The independent classifier (<c>checker.safetensors</c>, another seed), null in an init folder made before it existed.</param>
public sealed record ImagePretrainResult(string ModelPath, string ClassifierPath, double ClassifierAccuracy, ImageQuality Quality, bool Resumed, string? CheckerPath = null);

/// <summary>Quality of a model's samples: mean fidelity, share classified as their prompt, mean minimalism, per prompt too.</summary>
public sealed record ImageQuality(double Fidelity, double PromptAccuracy, double Minimalism, double[] FidelityPerPrompt, double[] PromptAccuracyPerPrompt);

/// <summary>
/// Pre-trains the shared init in a job folder, files in and files out:
/// <list type="bullet">
/// <item><c>settings.json</c>: the resolved spec; a later run in the folder must ask for the same.</item>
/// <item><c>classifier.safetensors</c>: the CNN trained on the real training images; kept when a later
/// phase is interrupted, so a resumed run does not train it again.</item>
/// <item><c>checker.safetensors</c>: a second classifier of the same architecture trained the same way with
/// another seed (<see cref="CheckerSeed"/>): never a reward, only the independent check of whether an image
/// shows its prompted garment (the share it recognises is reported beside the rewards); kept like the first.</item>
/// <item><c>model.safetensors</c>: the diffusion U-Net trained on the real training images with label
/// dropout, written when its training is complete.</item>
/// <item><c>quality.json</c>: the classifier's test accuracy and the init's sample quality (written last: its presence means done).</item>
/// </list>
/// The diffusion training is a few minutes; a kill during it restarts it (the classifier is kept).
/// </summary>
public static class ImagePretraining
{
    public const string SettingsFile = JobFolder.SettingsFile;
    public const string ClassifierFile = "classifier.safetensors";
    public const string QualityFile = "quality.json";
    public const string CheckerFile = "checker.safetensors";

    /// <summary>The independent checker's training seed: another seed than the reward classifier's (<paramref name="seed"/>), for every seed.</summary>
    public static int CheckerSeed(int seed) => unchecked(seed + 1_000_003);

    /// <summary>The noise seed of the init's quality samples, apart from any evaluation seed a runner uses.</summary>
    public const int QualitySeed = 7_000_001;

    public static ImagePretrainResult Run(string dir, ImagePretrainSpec spec, Action<ImageProgress>? log = null, CancellationToken cancel = default)
    {
        ImagePretrainSettings s = spec.Settings;
        s.Validate();
        spec.ResolvedSampler.Validate();
        string settingsJson = JsonSerializer.Serialize(new
        {
            task = ImageTask.Name,
            kind = "pretrain",
            seed = spec.Seed,
            pretrain = SettingsSection.ToJson(s),
            // The budget is not a key of the pretrain section (the experiment's pretrain.steps), but resuming needs the same.
            steps = s.Steps,
            quality_sampler = SettingsSection.ToJson(spec.ResolvedSampler),
        }, new JsonSerializerOptions { WriteIndented = true });
        JobFolder folder = JobFolder.Claim(dir, settingsJson);
        string classifierPath = folder.File(ClassifierFile);
        string modelPath = folder.File(ImageModel.FileName);
        string qualityPath = folder.File(QualityFile);
        string checkerPath = folder.File(CheckerFile);
        if (File.Exists(qualityPath) && File.Exists(modelPath) && File.Exists(classifierPath))
        {
            var done = JsonSerializer.Deserialize<QualityJson>(File.ReadAllText(qualityPath))
                ?? throw new SoupInputException($"{qualityPath}: empty");
            return new ImagePretrainResult(modelPath, classifierPath, done.ClassifierAccuracy, done.Quality, Resumed: true, File.Exists(checkerPath) ? checkerPath : null);
        }

        FashionMnistSet train = FashionMnist.Load(FashionMnistSplit.Train);
        FashionMnistSet test = FashionMnist.Load(FashionMnistSplit.Test);
        (FashionClassifier classifier, double accuracy) = TrainedClassifier(classifierPath, "classifier", train, test, s, spec.Seed, log, cancel);
        (FashionClassifier checker, double checkerAccuracy) = TrainedClassifier(checkerPath, "checker", train, test, s, CheckerSeed(spec.Seed), log, cancel);
        checker.Dispose();

        using (classifier)
        using (DiffusionUNet model = Train(train, s, spec.Seed, log, cancel))
        {
            ImageModel.Save(modelPath, model, new Dictionary<string, string>
            {
                ["rs.seed"] = spec.Seed.ToString(CultureInfo.InvariantCulture),
                ["rs.steps"] = s.Steps.ToString(CultureInfo.InvariantCulture),
                ["rs.settings"] = settingsJson,
            });
            ImageQuality quality = ImageEvaluation.Evaluate(model, classifier, s.QualitySamplesPerPrompt, QualitySeed, spec.ResolvedSampler).Quality();
            folder.WriteText(QualityFile, Numerics.FiniteJson.Serialize(new QualityJson(accuracy, quality, checkerAccuracy), qualityPath));
            return new ImagePretrainResult(modelPath, classifierPath, accuracy, quality, Resumed: false, checkerPath);
        }
    }

    /// <summary>The classifier of a file when a run before this one trained it (kept across a kill), else trained now and saved; with its test accuracy.</summary>
    private static (FashionClassifier Classifier, double TestAccuracy) TrainedClassifier(string path, string phase, FashionMnistSet train, FashionMnistSet test,
        ImagePretrainSettings s, int seed, Action<ImageProgress>? log, CancellationToken cancel)
    {
        if (File.Exists(path))
        {
            FashionClassifier kept = FashionClassifier.Load(path);
            return (kept, kept.Accuracy(test));
        }
        FashionClassifier classifier = FashionClassifier.Train(train, s.ClassifierSteps, s.ClassifierBatch, s.ClassifierLearningRate, seed,
            (step, loss) => { if (step % 100 == 0 || step == s.ClassifierSteps) log?.Invoke(new ImageProgress(phase, step, s.ClassifierSteps, loss, double.NaN, 0)); },
            cancel);
        double accuracy = classifier.Accuracy(test);
        classifier.Save(path, seed, s.ClassifierSteps, accuracy);
        return (classifier, accuracy);
    }

    /// <summary>
    /// The diffusion model's training on the real images: Adam, linear warm-up over 5% of the steps then
    /// cosine decay to 0 (the last weights are then an average over a small-step tail, what an EMA gives
    /// longer runs), gradient norm clipped at 1.
    /// </summary>
    public static DiffusionUNet Train(FashionMnistSet data, ImagePretrainSettings s, int seed, Action<ImageProgress>? log = null, CancellationToken cancel = default)
    {
        var model = TorchRandom.Seeded(seed, () => new DiffusionUNet(s.Channels));
        model.train();
        DiffusionUNet.CheckKernels(model);
        var generator = new Generator(unchecked((ulong)seed) ^ 0xD1FF05EUL);
        using var optimizer = KeptAliveAdam.Adam(model.parameters(), lr: s.LearningRate);
        int warmup = Math.Max(1, s.Steps / 20);
        var clock = Stopwatch.StartNew();
        double running = 0;
        for (int step = 1; step <= s.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            using ScalarGuard.Span guard = ScalarGuard.Enter();
            double lr = step <= warmup ? s.LearningRate * step / warmup
                : s.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / Math.Max(1, s.Steps - warmup)));
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            using var scope = NewDisposeScope();
            (Tensor x, Tensor y) = FashionClassifier.Batch(data, randint(data.Count, [s.Batch], dtype: int64, generator: generator));
            Tensor loss = Diffusion.Loss(model, x, y, s.LabelDropout, generator).mean();
            int at = step;
            running += OptimiserStep.Apply(optimizer, loss, model.parameters(), 1.0, () => $"pretrain step {at}");
            if (step % 100 == 0 || step == s.Steps)
            {
                log?.Invoke(new ImageProgress("pretrain", step, s.Steps, running / (step % 100 == 0 ? 100 : step % 100), double.NaN, 0));
                running = 0;
            }
        }
        model.eval();
        return model;
    }

    /// <summary>The classifier's test accuracy and the init's quality of a finished pre-training folder, or null when it is not finished.</summary>
    public static (double ClassifierAccuracy, ImageQuality Quality, double? CheckerAccuracy)? ReadQuality(string dir)
    {
        string path = Path.Combine(dir, QualityFile);
        if (!File.Exists(path)) return null;
        QualityJson q = JsonSerializer.Deserialize<QualityJson>(File.ReadAllText(path)) ?? throw new SoupInputException($"{path}: empty");
        return (q.ClassifierAccuracy, q.Quality, q.CheckerAccuracy);
    }

    /// <param name="CheckerAccuracy">The independent checker's test accuracy (null in a folder made before it existed).</param>
    private sealed record QualityJson(double ClassifierAccuracy, ImageQuality Quality, double? CheckerAccuracy = null);
}
