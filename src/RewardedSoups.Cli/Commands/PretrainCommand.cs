using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Cli.Commands;

/// <summary>
/// <c>soup pretrain text</c>: trains a built-in base language model into the user cache (<see cref="TextBase"/>) once,
/// so that every later text run asking for it loads it. <c>--size</c> names a built-in base; <c>--set</c> changes
/// its keys as in a configuration's <c>text</c> section and <c>--steps</c> its pre-training steps (a configuration
/// with the same keys and <c>pretrain.steps</c> uses the same base). Resumable: killed, it continues where it stopped.
/// </summary>
public static class PretrainCommand
{
    public static Command Create(CommandContext context)
    {
        var family = new Argument<string>("family") { Description = "What to pre-train: text (the text task's base language model)." };
        var size = new Option<string>("--size")
        {
            Description = "The built-in base: " + TextBase.SizesHelp + ".",
            DefaultValueFactory = _ => "base",
        };
        var steps = new Option<long?>("--steps") { Description = "Pre-training steps (default: the size's; a configuration's pretrain.steps)." };
        Option<string[]> set = SettingsOptions.Create();
        var json = new Option<bool>("--json") { Description = "Print the base's report (base.json) as JSON instead of a summary." };
        var command = new Command("pretrain", "Pre-train a built-in base model once into the user cache ($SOUP_CACHE, else $XDG_CACHE_HOME/rewardedsoups, else ~/.cache/rewardedsoups); later runs load it.")
        {
            family, size, steps, set, json,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            string what = parsed.GetValue(family)!;
            if (what != "text") throw new SoupInputException($"pretrain '{what}': only 'text' has a shared base model (an image or locomotion init is trained by its run)");
            TextBaseSize chosen = TextBase.Size(parsed.GetValue(size)!);
            long budget = parsed.GetValue(steps) ?? chosen.Steps;
            if (budget < 1) throw new SoupInputException($"--steps must be ≥ 1, got {budget}");
            var settings = TextFamily.Settings(SettingsOptions.Read(Families.Catalogue.Family(TextFamily.Task), TextFamily.Task, chosen.Section(), parsed.GetValue(set)));
            if (!settings.IsBuiltIn) throw new SoupInputException($"--set model: a base is built in; '{settings.Model}' is a given model, which needs no pre-training");
            TextBaseSpec spec = TextBaseSpec.From(settings, budget);
            TextBaseModel model = TextBase.Ensure(spec, line => context.Error.WriteLine(line), context.Cancel);
            TextBaseReport r = model.Report;
            if (parsed.GetValue(json))
            {
                context.Out.WriteLine(JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Success;
            }
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"base {r.Hash} ({(model.Trained ? $"trained now, {r.Seconds / 60:F1} min" : "already in the cache")}): {model.ModelDir}"));
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Spec.Layers} layers × {r.Spec.Width}, {r.Parameters:N0} parameters; {r.TokensSeen:N0} tokens seen of {string.Join(" + ", r.Spec.Corpora)} ({r.TrainTokens:N0}); validation perplexity {r.ValidPerplexity:F1}"));
            context.Out.WriteLine($"  used by text runs whose text keys and pretrain.steps ({r.Spec.Steps}) match; see docs/text.md");
            return ExitCodes.Success;
        }));
        return command;
    }
}
