using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RewardedSoups.Pareto;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup front FILE --ref r1,...,rd [--json]</c>: the non-dominated points, hypervolume and expected utility.</summary>
public static class FrontCommand
{
    public static Command Create(CommandContext context)
    {
        var reference = new Option<string>("--ref")
        {
            Description = "Reference point, one value per objective (e.g. the shared init's rewards); points that do not exceed it everywhere add no volume.",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (front, hypervolume, expected_utility, …)." };
        var divisions = new Option<int>("--eu-divisions")
        {
            Description = "Expected utility averages the best linear utility over a simplex grid of preferences with this many divisions.",
            DefaultValueFactory = _ => 10,
        };
        var file = new Argument<string>("file")
        {
            Description = "Points: CSV with a 'label' column then one column per objective, or JSON [{\"label\", \"values\"}] / {\"objectives\", \"points\"}. All objectives are maximised.",
        };
        var command = new Command("front", "Pareto front (objectives maximised), hypervolume and expected utility of a set of points.")
        {
            reference, json, divisions, file,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            string path = parsed.GetValue(file)!;
            PointSet points = PointSetFile.Load(path);
            double[] refPoint = ParseReference(parsed.GetValue(reference)!, points, path);
            int k = parsed.GetValue(divisions);
            if (k < 1) throw new SoupInputException($"--eu-divisions must be at least 1, got {k}");
            if (points.Dimensions > Hypervolume.MaxObjectives)
                throw new SoupInputException($"{path}: {points.Dimensions} objectives; hypervolume is exact for at most {Hypervolume.MaxObjectives}");
            if (SimplexGrid.Count(points.Dimensions, k) > 1_000_000)
                throw new SoupInputException($"--eu-divisions {k} makes {SimplexGrid.Count(points.Dimensions, k)} preferences for {points.Dimensions} objectives; choose fewer divisions");

            int[] front = Dominance.NonDominatedIndices(points.Values);
            var onFront = new HashSet<int>(front);
            double volume = Hypervolume.Compute(points.Values, refPoint);
            double utility = ExpectedUtility.Compute(points.Values, k);
            long preferences = SimplexGrid.Count(points.Dimensions, k);

            if (parsed.GetValue(json))
            {
                var doc = new Dictionary<string, object>
                {
                    ["file"] = path,
                    ["objectives"] = points.ObjectiveNames,
                    ["reference"] = refPoint,
                    ["front"] = front.Select(i => points.Labels[i]).ToArray(),
                    ["front_points"] = front.Select(i => new { label = points.Labels[i], values = points.Values[i] }).ToArray(),
                    ["dominated"] = Enumerable.Range(0, points.Count).Where(i => !onFront.Contains(i)).Select(i => points.Labels[i]).ToArray(),
                    ["hypervolume"] = volume,
                    ["expected_utility"] = utility,
                    ["eu_divisions"] = k,
                    ["eu_preferences"] = preferences,
                };
                context.Out.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Success;
            }
            TextWriter o = context.Out;
            o.WriteLine($"{path}: {points.Count} points, {points.Dimensions} objectives ({string.Join(", ", points.ObjectiveNames)}), all maximised");
            o.WriteLine($"front: {front.Length} non-dominated point(s)");
            int width = Math.Max(5, front.Select(i => points.Labels[i].Length).DefaultIfEmpty(5).Max());
            o.WriteLine("  " + "label".PadRight(width) + string.Concat(points.ObjectiveNames.Select(n => "  " + n.PadLeft(12))));
            foreach (int i in front)
                o.WriteLine("  " + points.Labels[i].PadRight(width) + string.Concat(points.Values[i].Select(v => "  " + v.ToString("G6", CultureInfo.InvariantCulture).PadLeft(12))));
            if (onFront.Count < points.Count)
                o.WriteLine($"dominated: {string.Join(", ", Enumerable.Range(0, points.Count).Where(i => !onFront.Contains(i)).Select(i => points.Labels[i]))}");
            o.WriteLine($"hypervolume: {volume.ToString("G10", CultureInfo.InvariantCulture)} (reference {Format(refPoint)})");
            o.WriteLine($"expected utility: {utility.ToString("G10", CultureInfo.InvariantCulture)} (linear utilities, {preferences} preferences on a simplex grid of {k} divisions)");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static double[] ParseReference(string text, PointSet points, string path)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw new SoupInputException($"--ref: '{parts[i]}' (value {i + 1}) is not a finite number");
        }
        if (values.Length != points.Dimensions)
            throw new SoupInputException($"--ref has {values.Length} value(s) but {path} has {points.Dimensions} objectives ({string.Join(", ", points.ObjectiveNames)})");
        return values;
    }

    private static string Format(double[] point) => "(" + string.Join(", ", point.Select(v => v.ToString("G6", CultureInfo.InvariantCulture))) + ")";
}
