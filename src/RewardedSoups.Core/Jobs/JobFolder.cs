using System.Globalization;
using System.Text.Json;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.Jobs;

/// <summary>
/// A job's folder: files in, files out, resumable after a kill. Every trainer (PPO, LM-PPO, image
/// pre-training and fine-tuning) and the runner's run folder go through this one type:
/// <list type="bullet">
/// <item><b>claim</b> (<see cref="Claim"/>): a new folder records the job's resolved settings; a folder
/// that holds other settings is refused with one line (resuming needs the same ones);</item>
/// <item><b>resume</b>: <see cref="CheckpointPath"/> and <see cref="HasCheckpoint"/>; what a checkpoint holds is the trainer's business;</item>
/// <item><b>log</b> (<see cref="OpenLog"/>): a CSV log whose rows after the last checkpoint are dropped, so a
/// resumed job appends exactly the rows an uninterrupted one would;</item>
/// <item><b>commit</b> (<see cref="WriteText"/>): outputs written atomically (temporary file, then rename);</item>
/// <item><b>finished-job marker</b> (<see cref="IsFinished"/>, <see cref="MarkFinished"/>): <c>job.json</c>
/// holding the key of the job's inputs; a job whose marker holds the same key is not redone.</item>
/// </list>
/// </summary>
public sealed class JobFolder
{
    /// <summary>The resolved settings a folder was claimed with.</summary>
    public const string SettingsFile = "settings.json";

    /// <summary>What a trainer resumes from, rewritten atomically after every update.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    /// <summary>The finished-job marker.</summary>
    public const string MarkerFile = "job.json";

    private JobFolder(string dir) => Dir = dir;

    public string Dir { get; }

    /// <summary>A file of the folder.</summary>
    public string File(string name) => Path.Combine(Dir, name);

    public string CheckpointPath => File(CheckpointFile);

    /// <summary>True when the folder holds a checkpoint to resume from.</summary>
    public bool HasCheckpoint => System.IO.File.Exists(CheckpointPath);

    /// <summary>
    /// Claims <paramref name="dir"/> (created if missing) for a job of these settings: a new folder records
    /// <paramref name="settingsJson"/> in <paramref name="settingsFile"/>; a folder holding other settings is
    /// refused with <paramref name="conflict"/>'s line, by default "DIR: holds <paramref name="what"/> with other
    /// settings (FILE); use another folder or the same settings".
    /// </summary>
    public static JobFolder Claim(string dir, string settingsJson, string what = "a job", string settingsFile = SettingsFile, Func<string, string>? conflict = null)
    {
        Directory.CreateDirectory(dir);
        string settingsPath = Path.Combine(dir, settingsFile);
        if (System.IO.File.Exists(settingsPath))
        {
            if (System.IO.File.ReadAllText(settingsPath) != settingsJson)
                throw new SoupInputException(conflict?.Invoke(settingsPath)
                    ?? $"{dir}: holds {what} with other settings ({settingsPath}); use another folder or the same settings");
        }
        else
        {
            AtomicOutput.WriteAllText(settingsPath, settingsJson);
        }
        return new JobFolder(dir);
    }

    /// <summary>Writes a file of the folder atomically.</summary>
    public void WriteText(string name, string text) => AtomicOutput.WriteAllText(File(name), text);

    /// <summary>
    /// Opens the CSV log <paramref name="name"/> for a job that has done <paramref name="done"/> steps (updates,
    /// rounds): the header and the rows whose first column is at most <paramref name="done"/> are kept, later
    /// rows (written after the last checkpoint, so redone) are dropped, atomically.
    /// </summary>
    public CsvLog OpenLog(string name, IEnumerable<string> columns, int done)
    {
        string path = File(name);
        var lines = new List<string> { string.Join(",", columns) };
        if (System.IO.File.Exists(path))
        {
            foreach (string line in System.IO.File.ReadLines(path).Skip(1))
                if (int.TryParse(line.Split(',', 2)[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int step) && step <= done)
                    lines.Add(line);
        }
        AtomicOutput.WriteAllText(path, string.Join("\n", lines) + "\n");
        return new CsvLog(path);
    }

    /// <summary>True when the job in <paramref name="dir"/> finished with the inputs of <paramref name="key"/>; a damaged marker is not finished.</summary>
    public static bool IsFinished(string dir, string key)
    {
        string marker = Path.Combine(dir, MarkerFile);
        if (!System.IO.File.Exists(marker)) return false;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(System.IO.File.ReadAllText(marker));
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("key", out JsonElement k) && k.ValueKind == JsonValueKind.String && k.GetString() == key;
        }
        catch (JsonException)
        {
            return false; // a damaged marker: the job is redone
        }
    }

    /// <summary>Marks the job in <paramref name="dir"/> finished, atomically: its id, kind, input key and time.</summary>
    public static void MarkFinished(string dir, string id, string kind, string key) =>
        AtomicOutput.WriteAllText(Path.Combine(dir, MarkerFile),
            JsonSerializer.Serialize(new { id, kind, key, finished = DateTimeOffset.UtcNow }));
}

/// <summary>A job's CSV log opened by <see cref="JobFolder.OpenLog"/>: rows are appended as the job goes.</summary>
public sealed class CsvLog(string path)
{
    public string Path { get; } = path;

    /// <summary>Appends one row of already formatted cells.</summary>
    public void Append(IEnumerable<string> cells) => File.AppendAllText(Path, string.Join(",", cells) + "\n");

    /// <summary>A cell: the value's invariant-culture text (round-trip for doubles).</summary>
    public static string Cell(object value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

    /// <summary>A cell with six significant digits.</summary>
    public static string G6(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
