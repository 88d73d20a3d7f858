using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.Tokenizers;
using RewardedSoups.Tasks.Text;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Bench;

/// <summary>
/// Language-model throughput in one run, on a random GPT-2-layout model the size of the built-in one
/// (4 layers, 128 wide, 4 heads, vocabulary 8192; GPT-2's tokenizer, prompts cut to 16 tokens,
/// responses of 16–24): sampling with the KV cache against full recomputation, with a live LoRA
/// adapter against the same adapter merged, and LM-PPO updates (generation, scoring, three forward
/// passes, epochs of minibatch updates). Runs alternate; the best of each is reported, with the
/// ratios. Response tokens per second count each sample's own length.
/// <c>--lr-sweep N</c> adds N updates of training at each of several learning rates from one start,
/// scored by the fraction of response tokens with id below 1000, to choose the LoRA learning rate.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- lm [--runs 3] [--threads 1] [--batch 64] [--updates 3] [--lr-sweep 0]
/// </summary>
public static class LmBenchmark
{
    private static readonly TorchSharp.Scalar Tenth = 0.1, Hundredth = 0.01;

    private static readonly Gpt2Config Config = new(VocabSize: 8192, Positions: 64, Embedding: 128, Layers: 4, Heads: 4);

    public static int Run(string[] args)
    {
        int runs = int.Parse(Program.Option(args, "--runs", "3"), CultureInfo.InvariantCulture);
        int threads = int.Parse(Program.Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int batch = int.Parse(Program.Option(args, "--batch", "64"), CultureInfo.InvariantCulture);
        int updates = int.Parse(Program.Option(args, "--updates", "3"), CultureInfo.InvariantCulture);
        int sweep = int.Parse(Program.Option(args, "--lr-sweep", "0"), CultureInfo.InvariantCulture);
        set_num_threads(threads);
        Tokenizer tokenizer = TextTokenizers.Gpt2();
        List<LmPrompt> prompts = Prompts(tokenizer, 256, seed: 1);
        var ppo = new LmPpoSettings { Batch = batch, Minibatches = 4, Lr = 1e-3, KlInit = 0.2, KlHorizon = 10000, PromptTokens = 16, ResponseMin = 16, ResponseMax = 24 };
        (long[] ids, _) = Gpt2Sampling.EncodePrompts(tokenizer, prompts.Take(batch).Select(p => p.Text).ToList(), 16, Config.VocabSize);

        random.manual_seed(1);
        using var model = new Gpt2Model(Config);
        using (no_grad())
        {
            // nn.Embedding's N(0, 1) through the tied head gives logits of std ≈ √128: a near-greedy
            // random model whose policy gradient vanishes. Scaled down, its next-token entropy is a
            // trained small LM's (a few nats), so the learning-rate sweep means something.
            foreach ((string name, Parameter p) in model.named_parameters())
                if (name == "transformer.wte.weight") p.mul_(Tenth);
        }
        foreach (Parameter p in model.parameters()) p.requires_grad = false;
        var results = new Dictionary<string, List<double>>();
        void Add(string key, double value) => (results.TryGetValue(key, out var list) ? list : results[key] = []).Add(value);
        for (int r = 0; r < runs; r++)
        {
            using var prompt = tensor(ids, [batch, 16]);
            Add("full", Generate(model, prompt, ppo.Sampling, useCache: false, r));
            Add("cache", Generate(model, prompt, ppo.Sampling, useCache: true, r));
            using (var g = new Generator(1))
            using (Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Targets = ["c_attn"] }, g))
            {
                using (no_grad()) foreach (Parameter p in lora.Parameters()) p.add_(Hundredth); // a trained-looking adapter: B ≠ 0
                Add("lora-live", Generate(model, prompt, ppo.Sampling, useCache: true, r));
            }
            Add("ppo", Train(model, tokenizer, prompts, ppo, updates, r, out double generationShare));
            Add("ppo-generation-share", generationShare);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {r + 1}: full {results["full"][^1]:F0}, cache {results["cache"][^1]:F0}, live LoRA {results["lora-live"][^1]:F0}, PPO {results["ppo"][^1]:F0} response tokens/s"));
        }
        double full = results["full"].Max(), cache = results["cache"].Max(), live = results["lora-live"].Max(), train = results["ppo"].Max();
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {Config.Layers} layers × {Config.Embedding} wide, vocabulary {Config.VocabSize}; batch {batch}, prompt 16, responses 16–24; {threads} libtorch thread(s); best of {runs}"));
        Console.WriteLine("| measurement | response tokens/s (best) | ratio |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| sampling, full recomputation | {full:F0} | 1.00 |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| sampling, KV cache (base or merged adapter) | {cache:F0} | **{cache / full:F2}** vs full |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| sampling, KV cache, live LoRA on c_attn (r = 8) | {live:F0} | {live / cache:F2} vs merged |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| LM-PPO update (defaults, LoRA r = 8 on c_attn) | {train:F0} | {train / cache:F2} vs sampling; generation {Program.Median(results["ppo-generation-share"]) * 100:F0}% of an update |"));
        if (sweep > 0) LearningRateSweep(model, tokenizer, prompts, ppo, sweep);
        return 0;
    }

    private static void LearningRateSweep(Gpt2Model model, Tokenizer tokenizer, List<LmPrompt> prompts, LmPpoSettings settings, int updates)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| learning rate | score, first 3 updates | score, last 3 of {updates} | KL(π‖π_ref) at the end | β at the end | entropy at the end |"));
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (double lr in new[] { 3e-4, 1e-3, 3e-3 })
        {
            using var init = new Generator(11);
            using Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Targets = ["c_attn"] }, init);
            using var valueHead = new LmValueHead(Config.Embedding, init);
            using var trainer = new LmPpoTrainer(model, lora, valueHead, tokenizer, prompts, Score, settings with { Lr = lr }, seed: 5);
            var logs = new List<LmUpdateLog>();
            trainer.Train((long)updates * settings.Batch, logs.Add);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {lr:G2} | {logs.Take(3).Average(l => l.ScoreMean):F3} | {logs.TakeLast(3).Average(l => l.ScoreMean):F3} | {logs[^1].Kl:F2} | {logs[^1].KlCoef:F4} | {logs[^1].Entropy:F2} |"));
        }
    }

    private static double[] Score(IReadOnlyList<LmSample> batch) => batch.Select(s => s.ResponseTokens.Count(t => t < 1000) / (double)s.ResponseTokens.Count).ToArray();

    /// <summary>Prompts whose first 16 GPT-2 tokens lie in the reduced vocabulary: random in-vocabulary ids decoded to text, kept when they encode back in range.</summary>
    private static List<LmPrompt> Prompts(Tokenizer tokenizer, int count, int seed)
    {
        var random = new Random(seed);
        var prompts = new List<LmPrompt>();
        while (prompts.Count < count)
        {
            string text = tokenizer.Decode(Enumerable.Range(0, 20).Select(_ => random.Next(256, Config.VocabSize))) ?? "";
            IReadOnlyList<int> back = tokenizer.EncodeToIds(text);
            if (back.Count >= 16 && back.Take(16).All(t => t < Config.VocabSize)) prompts.Add(new LmPrompt(text));
        }
        return prompts;
    }

    private static double Generate(Gpt2Model model, Tensor prompts, SamplingSettings settings, bool useCache, int seed)
    {
        using var g = new Generator((ulong)seed + 1);
        var clock = Stopwatch.StartNew();
        using Generation generation = Gpt2Sampling.Generate(model, prompts, settings, g, useCache);
        return generation.Lengths.Sum() / clock.Elapsed.TotalSeconds;
    }

    /// <summary>LM-PPO updates with a cheap scorer (the fraction of response tokens below id 1000), so the time is the trainer's.</summary>
    private static double Train(Gpt2Model model, Tokenizer tokenizer, List<LmPrompt> prompts, LmPpoSettings settings, int updates, int seed, out double generationShare)
    {
        using var init = new Generator((ulong)seed + 7);
        using Gpt2Lora lora = Gpt2Lora.Inject(model, new LoraSettings { Targets = ["c_attn"] }, init);
        using var valueHead = new LmValueHead(Config.Embedding, init);
        using var trainer = new LmPpoTrainer(model, lora, valueHead, tokenizer, prompts, Score, settings, seed);
        double tokens = 0, generation = 0;
        var clock = Stopwatch.StartNew();
        trainer.Train((long)updates * settings.Batch, log =>
        {
            tokens += log.ResponseLength * settings.Batch;
            generation += log.GenerationSeconds;
        });
        double seconds = clock.Elapsed.TotalSeconds;
        generationShare = generation / seconds;
        return tokens / seconds;
    }
}
