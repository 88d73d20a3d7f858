using System.Globalization;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Bench;

/// <summary>
/// Unedited samples of text policies for docs/text.md: COUNT held-out prompts drawn by SEED (not chosen by hand), one
/// continuation each per policy with sampling seed SEED (the task's sampling: 12–16 tokens at the temperature the
/// policies were trained at — their settings.json — or at --temperature T), cut at the review's end as the rewards
/// read it (<see cref="TextRewards.Review"/>), as a Markdown list per prompt.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- text-samples --init TEXT_INIT_DIR
/// [--policy NAME=JOB_DIR]… [--count 10] [--seed 0] [--temperature T] (JOB_DIR: a run's jobs/s1-expert-1 etc.; the init is always shown).
/// </summary>
public static class TextSamples
{
    public static int Run(string[] args)
    {
        string initDir = Program.Option(args, "--init", "");
        if (initDir.Length == 0) throw new ArgumentException("text-samples needs --init TEXT_INIT_DIR");
        int count = int.Parse(Program.Option(args, "--count", "10"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Program.Option(args, "--seed", "0"), CultureInfo.InvariantCulture);
        var policies = new List<(string Name, string Dir)> { ("init", initDir) };
        for (int i = 0; i + 1 < args.Length; i++)
            if (args[i] == "--policy")
            {
                string[] kv = args[i + 1].Split('=', 2);
                policies.Add(kv.Length == 2 ? (kv[0], kv[1]) : (Path.GetFileName(kv[0]), kv[0]));
            }
        string temperature = Program.Option(args, "--temperature", "");
        var settings = new TextSettings() with
        {
            Temperature = temperature.Length > 0 ? double.Parse(temperature, CultureInfo.InvariantCulture) : TrainedTemperature(policies.Skip(1).Select(p => p.Dir)) ?? new TextSettings().Temperature,
        };
        string baseModel = Path.Combine(initDir, TextInit.ModelDir);
        var (tokenizer, _, data) = TextFamily.Data(baseModel, settings);
        var prompts = data.EvalPrompts.ToList();
        new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(prompts));
        prompts = prompts.Take(count).ToList();
        var texts = new List<string[]>();
        foreach ((_, string dir) in policies)
        {
            using var model = TextFamily.LoadPolicy(baseModel, dir);
            texts.Add(Gpt2Sampling.GenerateText(model, tokenizer, prompts.Select(p => TextTokenizers.EndOfText + p.Prompt).ToList(),
                settings.PromptTokens + 1, TextFamily.Sampling(settings), seed).ToArray());
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{count} held-out prompts drawn with seed {seed}, one continuation each (sampling seed {seed}, temperature {settings.Temperature}); the prompt in bold, ∎ where the model ended the review."));
        for (int i = 0; i < prompts.Count; i++)
        {
            Console.WriteLine();
            Console.WriteLine($"{i + 1}. **{prompts[i].Prompt.Trim()}** … (real: {prompts[i].Reference.Trim()})");
            for (int k = 0; k < policies.Count; k++)
            {
                string raw = texts[k][i];
                bool ended = raw.Contains(TextTokenizers.EndOfText, StringComparison.Ordinal);
                Console.WriteLine($"   - {policies[k].Name}: {TextRewards.Review(raw).Trim()}{(ended ? " ∎" : "")}");
            }
        }
        return 0;
    }

    /// <summary>The sampling temperature the LM-PPO jobs in <paramref name="dirs"/> recorded (all the same), or null when none did.</summary>
    private static double? TrainedTemperature(IEnumerable<string> dirs)
    {
        var recorded = dirs.Select(d => Path.Combine(d, LmPpoRun.SettingsFile)).Where(File.Exists)
            .Select(f => System.Text.Json.JsonDocument.Parse(File.ReadAllText(f)).RootElement)
            .Select(j => j.TryGetProperty("sampling", out var s) && s.TryGetProperty("temperature", out var t) ? t.GetDouble() : (double?)null)
            .OfType<double>().Distinct().ToList();
        return recorded.Count switch
        {
            0 => null,
            1 => recorded[0],
            _ => throw new ArgumentException($"the policies were trained at different temperatures ({string.Join(", ", recorded)}): give --temperature"),
        };
    }
}
