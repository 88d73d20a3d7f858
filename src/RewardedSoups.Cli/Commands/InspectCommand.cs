using System.CommandLine;
using System.Text.Json;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup inspect CHECKPOINT [--json]</c>: validate a checkpoint and list its tensors and metadata.</summary>
public static class InspectCommand
{
    public static Command Create(CommandContext context)
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var limit = new Option<int>("--limit") { Description = "Tensors listed in the table (0 = all).", DefaultValueFactory = _ => 50 };
        var path = new Argument<string>("checkpoint") { Description = "A .safetensors file or a Hugging Face folder." };
        var command = new Command("inspect", "Validate a checkpoint (strictly, as the reference safetensors does) and list its tensors and metadata.")
        {
            json, limit, path,
        };
        command.SetAction(parsed => context.Run(() =>
        {
            using Checkpoint checkpoint = Checkpoint.Open(parsed.GetValue(path)!);
            if (parsed.GetValue(json))
            {
                var doc = new
                {
                    path = checkpoint.Path,
                    files = checkpoint.Files.Select(f => Path.GetFileName(f.Path)).ToArray(),
                    header_sha256 = checkpoint.HeaderSha256,
                    data_bytes = checkpoint.DataBytes,
                    metadata = checkpoint.Metadata,
                    tensors = checkpoint.Tensors.Select(t => new { name = t.Name, dtype = t.DType.Name(), shape = t.Shape, bytes = t.Info.ByteLength }).ToArray(),
                };
                context.Out.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Success;
            }
            context.Out.WriteLine($"{checkpoint.Path}: {checkpoint.Tensors.Count} tensors, {Units.Bytes(checkpoint.DataBytes)} in {checkpoint.Files.Count} file(s), header sha256 {checkpoint.HeaderSha256[..16]}…");
            var byType = checkpoint.Tensors.GroupBy(t => t.DType).Select(g => $"{g.Key.Name()}×{g.Count()}");
            context.Out.WriteLine($"dtypes: {string.Join(", ", byType)}; parameters: {checkpoint.Tensors.Sum(t => t.Info.ElementCount):N0}");
            foreach ((string key, string value) in checkpoint.Metadata)
                context.Out.WriteLine($"  meta {key} = {(value.Length > 200 ? value[..200] + "…" : value)}");
            int shown = parsed.GetValue(limit) is > 0 and int n ? n : int.MaxValue;
            int width = checkpoint.Tensors.Take(shown).Select(t => t.Name.Length).DefaultIfEmpty(4).Max();
            foreach (CheckpointTensor t in checkpoint.Tensors.Take(shown))
                context.Out.WriteLine($"  {t.Name.PadRight(width)}  {t.DType.Name(),-7} {t.Info.ShapeText}");
            if (checkpoint.Tensors.Count > shown) context.Out.WriteLine($"  … {checkpoint.Tensors.Count - shown} more (--limit 0 lists all)");
            return ExitCodes.Success;
        }));
        return command;
    }
}
