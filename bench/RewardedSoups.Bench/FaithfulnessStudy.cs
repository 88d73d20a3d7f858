using System.Globalization;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Bench;

/// <summary>
/// How the faithfulness reward was chosen (docs/text.md, "Rewards"): the init's continuations of PROMPTS held-out
/// prompts, SEEDS samples each, scored by three candidate measures, next to what a degenerate policy would score:
/// an empty continuation, "." (ending the review at once), the prompt repeated, another review's real continuation,
/// and the real one. Per measure: the init's mean, the spread of its samples within a prompt and between prompts
/// (a policy can only learn from the first), and the mean of the best of the SEEDS samples per prompt.
/// A measure a policy cannot game scores "empty" and "." at the bottom.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- faithfulness --init TEXT_INIT_DIR [--prompts 96] [--seeds 8]
/// (TEXT_INIT_DIR: a text run's jobs/s1-init, or `soup train --task reviews --steps 600 -o DIR`).
/// </summary>
public static class FaithfulnessStudy
{
    public static int Run(string[] args)
    {
        string initDir = Program.Option(args, "--init", "");
        if (initDir.Length == 0) throw new ArgumentException("faithfulness needs --init TEXT_INIT_DIR");
        int promptCount = int.Parse(Program.Option(args, "--prompts", "96"), CultureInfo.InvariantCulture);
        int seeds = int.Parse(Program.Option(args, "--seeds", "8"), CultureInfo.InvariantCulture);
        var settings = new TextSettings();
        string baseModel = Path.Combine(initDir, TextInit.ModelDir);
        var (tokenizer, _, data) = TextFamily.Data(baseModel, settings);
        var prompts = data.EvalPrompts.Take(promptCount).ToList();
        int n = prompts.Count;
        string[][] samples;
        using (var model = TextFamily.LoadPolicy(baseModel, initDir))
            samples = Enumerable.Range(0, seeds).Select(seed => Gpt2Sampling.GenerateText(model, tokenizer,
                prompts.Select(p => TextTokenizers.EndOfText + p.Prompt).ToList(), settings.PromptTokens + 1, TextFamily.Sampling(settings), seed)
                .Select(TextRewards.Review).ToArray()).ToArray();

        using var faithfulness = new Faithfulness();
        var p = prompts.Select(x => x.Prompt).ToList();
        var r = prompts.Select(x => x.Reference).ToList();
        var measures = new (string Name, Func<string[], double[]> Score)[]
        {
            ("added (the reward): cos(e(P+C) - e(P), e(P+R) - e(P)), length floor", c => faithfulness.Added(p, c, r)),
            ("whole review: cos(e(P+C), e(P+R)) (until 2026-12-03)", c => faithfulness.Score(c.Select((x, i) => p[i] + x).ToList(), r.Select((x, i) => p[i] + x).ToList())),
            ("continuation alone: cos(e(C), e(R))", c => faithfulness.Score(c, r)),
        };
        var probes = new (string Name, string[] Texts)[]
        {
            ("empty", p.Select(_ => "").ToArray()),
            ("\".\"", p.Select(_ => ".").ToArray()),
            ("prompt repeated", p.Select(x => " " + x).ToArray()),
            ("another review's", r.Select((_, i) => r[(i + 7) % n]).ToArray()),
            ("the real one", r.ToArray()),
        };
        Console.WriteLine($"{n} held-out prompts x {seeds} samples of the init ({initDir}); references {r.Average(Faithfulness.Words):F1} words, the init's reviews {samples.SelectMany(s => s).Average(Faithfulness.Words):F1}");
        foreach ((string name, Func<string[], double[]> score) in measures)
        {
            double[][] per = samples.Select(score).ToArray();   // [seed][prompt]
            double mean = per.SelectMany(x => x).Average();
            double[] promptMeans = Enumerable.Range(0, n).Select(i => per.Average(s => s[i])).ToArray();
            double within = Math.Sqrt(Enumerable.Range(0, n).Average(i => per.Sum(s => Math.Pow(s[i] - promptMeans[i], 2)) / (seeds - 1)));
            double between = Math.Sqrt(promptMeans.Sum(m => Math.Pow(m - mean, 2)) / (n - 1));
            double best = Enumerable.Range(0, n).Average(i => per.Max(s => s[i]));
            Console.WriteLine($"{name}\n  init {mean:F3} (sd within a prompt {within:F3}, between prompts {between:F3}; best of {seeds} {best:F3}); "
                + string.Join("; ", probes.Select(x => $"{x.Name} {score(x.Texts).Average():F3}")));
        }
        return 0;
    }
}
