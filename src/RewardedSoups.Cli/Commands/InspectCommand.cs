using System.Buffers;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.Cli.Commands;

/// <summary><c>soup inspect CHECKPOINT [--json]</c>: validate a checkpoint and list its tensors and metadata.</summary>
public static class InspectCommand
{
    /// <summary>Widest name column of the table: a longer (escaped) name overflows its row, not every row.</summary>
    private const int MaxNameColumn = 80;

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
                WriteJson(context.Out, checkpoint);
                return ExitCodes.Success;
            }
            context.Out.WriteLine($"{checkpoint.Path}: {checkpoint.Tensors.Count} tensors, {Units.Bytes(checkpoint.DataBytes)} in {checkpoint.Files.Count} file(s), header sha256 {checkpoint.HeaderSha256[..16]}…");
            var byType = checkpoint.Tensors.GroupBy(t => t.DType).Select(g => $"{g.Key.Name()}×{g.Count()}");
            context.Out.WriteLine($"dtypes: {string.Join(", ", byType)}; parameters: {checkpoint.Tensors.Sum(t => t.Info.ElementCount):N0}");
            // Names and metadata come from the file: escaped, so that they cannot drive the terminal.
            foreach ((string key, string value) in checkpoint.Metadata)
                context.Out.WriteLine($"  meta {Printable.Escape(key)} = {Printable.Escape(value, 200)}");
            int shown = parsed.GetValue(limit) is > 0 and int n ? n : int.MaxValue;
            string[] names = checkpoint.Tensors.Take(shown).Select(t => Printable.Escape(t.Name, SafetensorsHeader.MaxNameBytes)).ToArray();
            int width = Math.Min(MaxNameColumn, names.Select(s => s.Length).DefaultIfEmpty(4).Max());
            for (int i = 0; i < names.Length; i++)
            {
                CheckpointTensor t = checkpoint.Tensors[i];
                context.Out.WriteLine($"  {names[i].PadRight(width)}  {t.DType.Name(),-7} {t.Info.ShapeText}");
            }
            if (checkpoint.Tensors.Count > shown) context.Out.WriteLine($"  … {checkpoint.Tensors.Count - shown} more (--limit 0 lists all)");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>
    /// The checkpoint as one indented JSON object, written in pieces of about 64 KiB as it is made: a
    /// listing of a million tensors is never held whole in memory.
    /// </summary>
    private static void WriteJson(TextWriter output, Checkpoint checkpoint)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        char[] chars = [];
        using var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true });
        void Flush()
        {
            // Called between tensors, so no character is split; decoded into one reused buffer.
            w.Flush();
            if (chars.Length < buffer.WrittenCount) chars = new char[buffer.WrittenCount];
            int n = Encoding.UTF8.GetChars(buffer.WrittenSpan, chars);
            output.Write(chars, 0, n);
            buffer.ResetWrittenCount();
        }
        w.WriteStartObject();
        w.WriteString("path", checkpoint.Path);
        w.WriteStartArray("files");
        foreach (SafetensorsFile f in checkpoint.Files) w.WriteStringValue(Path.GetFileName(f.Path));
        w.WriteEndArray();
        w.WriteString("header_sha256", checkpoint.HeaderSha256);
        w.WriteNumber("data_bytes", checkpoint.DataBytes);
        w.WriteStartObject("metadata");
        foreach ((string key, string value) in checkpoint.Metadata) w.WriteString(key, value);
        w.WriteEndObject();
        w.WriteStartArray("tensors");
        foreach (CheckpointTensor t in checkpoint.Tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("dtype", t.DType.Name());
            w.WriteStartArray("shape");
            foreach (long d in t.Shape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteNumber("bytes", t.Info.ByteLength);
            w.WriteEndObject();
            if (buffer.WrittenCount + w.BytesPending > 1 << 16) Flush();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        Flush();
        output.WriteLine();
    }
}
