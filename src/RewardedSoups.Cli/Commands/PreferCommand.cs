using System.CommandLine;
using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Runner;
using RewardedSoups.Runner.Report;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup prefer RUN_DIR --mu 0.7,0.3 [--json] [-o OUT]</c>: the soup λ*(μ) that serves a preference μ best among
/// the run's evaluated soups (chosen on the validation half of their evaluations, its utility μ · R reported on the
/// test half beside λ = μ and MORL's policy for μ; <see cref="PreferenceAnalysis"/>), and with <c>-o</c> that soup
/// written as the run writes its soups (same mode and merge method).
/// </summary>
public static class PreferCommand
{
    public static Command Create(CommandContext context)
    {
        var runDir = new Argument<string>("run-dir") { Description = "A finished run folder (soup run)." };
        var mu = new Option<string>("--mu")
        {
            Description = "The preference over the run's rewards, in their order: non-negative weights summing to 1, e.g. 0.7,0.3.",
            Required = true,
        };
        var output = new Option<string?>("--output", "-o") { Description = "Write the soup λ*(μ) here (a new folder), made from the experts of --seed." };
        var seed = new Option<int?>("--seed") { Description = "The training seed whose experts -o mixes (default: the run's first)." };
        var json = new Option<bool>("--json") { Description = "Print the analysis as JSON." };
        var command = new Command("prefer", "From a preference μ over the rewards to the run's soup that serves it best, λ*(μ), with its test utility against λ = μ and MORL; -o writes that soup.")
        {
            runDir, mu, output, seed, json,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            ExperimentPlan plan = ExperimentRunner.Open(parsed.GetValue(runDir)!, Families.Catalogue);
            ExperimentConfig c = plan.Config;
            double[] preference = ReadPreference(parsed.GetValue(mu)!, c.Experts.Select(e => e.Name).ToList());
            string? outDir = parsed.GetValue(output);
            int trainingSeed = parsed.GetValue(seed) ?? c.TrainingSeeds.First();
            if (!c.TrainingSeeds.Contains(trainingSeed))
                throw new SoupInputException($"--seed {trainingSeed}: the run's training seeds are {string.Join(", ", c.TrainingSeeds)}");
            // Checked before the analysis reads every evaluation (AtomicOutput checks again where it writes).
            if (outDir is not null && (File.Exists(outDir) || (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())))
                throw new SoupInputException($"-o {outDir}: exists and is not an empty folder; name a new one");
            Job? missing = plan.Jobs.FirstOrDefault(j => !plan.IsDone(j));
            if (missing is not null) throw new SoupInputException($"{plan.RunDir}: job '{missing.Id}' has not finished; run 'soup run' on the same configuration and folder to finish it");

            ITaskFamily family = Families.Catalogue.Family(c.Task);
            ExperimentResults results = ResultsBuilder.Build(plan, family, [preference]);
            PreferencesResult prefs = results.Preferences
                ?? throw new SoupInputException($"{plan.RunDir}: each evaluation has a single return; λ*(μ) needs two, one to choose on and one to report on");
            PreferenceResult item = prefs.Items.First(i => i.Sources.Contains("asked"));
            PolicyResult chosen = results.Policies.First(p => p.Label == item.LambdaStarLabel);

            string? written = null;
            if (outDir is not null) written = WriteSoup(plan, family, item.LambdaStar, trainingSeed, outDir, context.Cancel);

            if (parsed.GetValue(json))
            {
                context.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    rewards = results.Rewards,
                    preference = item,
                    rewards_of_lambda_star = new { mean = chosen.Mean, low = chosen.Low, high = chosen.High },
                    output = written,
                }, new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Success;
            }
            context.Out.WriteLine($"μ {ReportFormat.Weights(item.Mu)} over ({string.Join(", ", results.Rewards)}) on {results.Name}: utility μ · R on the test half of the evaluations, λ*(μ) chosen on the validation half");
            context.Out.WriteLine($"  λ*(μ) = {ReportFormat.Weights(item.LambdaStar)} ({item.LambdaStarLabel}): utility {ReportFormat.MeanInterval(item.TestStar)}");
            context.Out.WriteLine("    its rewards (every evaluation): " + string.Join(", ", results.Rewards.Select((r, i) => $"{r} {ReportFormat.MeanInterval(chosen.Mean[i], chosen.Low[i], chosen.High[i])}")));
            context.Out.WriteLine(item.TestMu is { } atMu
                ? $"  λ = μ: utility {ReportFormat.MeanInterval(atMu)}; λ* − (λ = μ) {ReportFormat.MeanInterval(item.StarMinusMu!)} (paired)"
                : "  λ = μ: not evaluated (μ is not on the run's λ grid)");
            context.Out.WriteLine(item.TestMorl is { } morl
                ? $"  MORL for μ: utility {ReportFormat.MeanInterval(morl)}; λ* − MORL {ReportFormat.MeanInterval(item.StarMinusMorl!)} (paired)"
                : "  MORL for μ: none trained for this μ");
            if (item.LambdaStarGrid is { } gridStar && item.TestStarGrid is { } gridUtility)
                context.Out.WriteLine(Pareto.PreferredSoup.SameWeights(gridStar, item.LambdaStar)
                    ? $"  λ search: λ*(μ) is on the grid (the search's {prefs.Search!.Soups} soups did not serve μ better on validation)"
                    : $"  λ search: the grid's best was {ReportFormat.Weights(gridStar)}, utility {ReportFormat.MeanInterval(gridUtility)}; λ* − it {ReportFormat.MeanInterval(item.StarMinusGrid!)} (paired)");
            if (item.EnsembleStar is { } ensembleStar)
                context.Out.WriteLine($"  ensemble (the experts' outputs combined): "
                    + (item.TestEnsemble is { } atMuEnsemble ? $"λ = μ utility {ReportFormat.MeanInterval(atMuEnsemble)}, ensemble − soup (λ = μ) {ReportFormat.MeanInterval(item.EnsembleMinusMu!)} (paired); " : "none evaluated at λ = μ; ")
                    + $"best on validation {ReportFormat.Weights(ensembleStar)}, utility {ReportFormat.MeanInterval(item.TestEnsembleStar!)}");
            if (written is not null)
                context.Out.WriteLine($"wrote {written}: the soup λ*(μ) of training seed {trainingSeed}'s experts ({c.SoupModes[0]})");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>--mu as a preference over <paramref name="rewards"/>: one weight each, non-negative, summing to 1.</summary>
    public static double[] ReadPreference(string text, IReadOnlyList<string> rewards)
    {
        int given = text.Split(',').Length;
        if (given != rewards.Count)
            throw new SoupInputException($"--mu: {given} weight(s) given for the run's {rewards.Count} rewards ({string.Join(", ", rewards)})");
        SoupWeights weights;
        try { weights = SoupWeights.Parse(text); }
        catch (SoupInputException e) { throw new SoupInputException($"--mu: {e.Message}"); }
        return weights.ToArray();
    }

    /// <summary>Makes the soup of <paramref name="lambda"/> under a temporary name beside <paramref name="outDir"/>, then renames it into place.</summary>
    private static string WriteSoup(ExperimentPlan plan, ITaskFamily family, double[] lambda, int seed, string outDir, CancellationToken cancel)
    {
        ExperimentConfig c = plan.Config;
        using AtomicOutput output = AtomicOutput.ForFolder(outDir, overwrite: false);
        var experts = Enumerable.Range(0, c.Experts.Count).Select(i => plan.JobDir(plan.Expert(seed, i))).ToList();
        string mode = c.SoupModes[0];
        family.Soup(new SoupJobSpec(c.Task, experts, SoupWeights.Of(lambda), mode, output.TemporaryPath, plan.JobDir(plan.Init(seed)), c.Settings, c.SoupMethodOf(mode)), cancel);
        output.Commit();
        return output.Destination;
    }
}
