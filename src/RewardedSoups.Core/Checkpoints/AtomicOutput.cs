namespace RewardedSoups.Checkpoints;

/// <summary>
/// Writes a file or a folder under a temporary name beside its destination and renames it into
/// place on <see cref="Commit"/>; disposing without committing deletes the temporary. A failed or
/// interrupted write therefore never leaves anything at the destination, and never destroys what was
/// there before. A killed process may leave a hidden <c>.NAME.tmp-PID-*</c> beside it (never the
/// destination); the next output to the same destination removes those whose process is gone.
/// </summary>
public sealed class AtomicOutput : IDisposable
{
    private bool _committed;

    private AtomicOutput(string destination, string temporary, bool isFolder)
    {
        Destination = destination;
        TemporaryPath = temporary;
        IsFolder = isFolder;
    }

    /// <summary>The final path.</summary>
    public string Destination { get; }

    /// <summary>Where to write until <see cref="Commit"/>.</summary>
    public string TemporaryPath { get; }

    public bool IsFolder { get; }

    /// <summary>Prepares a file output; an existing file at the destination is replaced on commit, a folder there is an error.</summary>
    public static AtomicOutput ForFile(string destination)
    {
        string full = System.IO.Path.GetFullPath(destination);
        if (Directory.Exists(full))
            throw new SoupInputException($"{destination}: is a folder; give a file name ending in .safetensors, or a folder name for a Hugging Face layout");
        return new AtomicOutput(full, TemporaryName(full), isFolder: false);
    }

    /// <summary>Prepares a folder output; an existing folder is replaced on commit only when <paramref name="overwrite"/> is set.</summary>
    public static AtomicOutput ForFolder(string destination, bool overwrite)
    {
        string full = System.IO.Path.GetFullPath(destination.TrimEnd('/'));
        if (File.Exists(full))
            throw new SoupInputException($"{destination}: is a file, not a folder");
        if (Directory.Exists(full) && !overwrite && Directory.EnumerateFileSystemEntries(full).Any())
            throw new SoupInputException($"{destination}: folder exists and is not empty; pass --overwrite to replace it");
        string temp = TemporaryName(full);
        Directory.CreateDirectory(temp);
        return new AtomicOutput(full, temp, isFolder: true);
    }

    private static string TemporaryName(string full)
    {
        string parent = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(parent))
            throw new SoupInputException($"{parent}: output folder does not exist");
        string name = System.IO.Path.GetFileName(full);
        RemoveDeadTemporaries(parent, name);
        return System.IO.Path.Combine(parent, $".{name}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Deletes the temporaries of <paramref name="name"/> in <paramref name="parent"/> that a process no
    /// longer alive left (killed mid-write). Only names of our pattern with a PID are touched; those of a
    /// live process (it may be writing), and those without a PID (written before PIDs were recorded, owner
    /// unknown), are left alone.
    /// </summary>
    internal static void RemoveDeadTemporaries(string parent, string name)
    {
        string prefix = $".{name}.tmp-";
        foreach (string path in Directory.EnumerateFileSystemEntries(parent, prefix + "*"))
        {
            string rest = System.IO.Path.GetFileName(path);
            if (!rest.StartsWith(prefix, StringComparison.Ordinal)) continue;
            rest = rest[prefix.Length..];
            int dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(rest.AsSpan(0, dash), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || IsAlive(pid)) continue;
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                else File.Delete(path);
            }
            catch (IOException)
            {
                // Another process cleaned it first, or it cannot be removed: not this output's concern.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>Whether a process with this PID runs (Linux: /proc/PID); elsewhere every PID counts as alive, so nothing is removed.</summary>
    private static bool IsAlive(int pid) => !OperatingSystem.IsLinux() || Directory.Exists($"/proc/{pid}");

    /// <summary>Writes a small file whole, atomically (results, markers, logs rewritten on resume).</summary>
    public static void WriteAllBytes(string destination, ReadOnlySpan<byte> bytes)
    {
        using AtomicOutput output = ForFile(destination);
        File.WriteAllBytes(output.TemporaryPath, bytes);
        output.Commit();
    }

    /// <summary>Writes a small text file whole (UTF-8), atomically.</summary>
    public static void WriteAllText(string destination, string text) =>
        WriteAllBytes(destination, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Renames the temporary into place.</summary>
    public void Commit()
    {
        if (!IsFolder)
        {
            File.Move(TemporaryPath, Destination, overwrite: true);
        }
        else if (Directory.Exists(Destination))
        {
            // Folders cannot be renamed over one another: move the old one aside first, then drop it.
            string old = TemporaryName(Destination).Replace(".tmp-", ".old-", StringComparison.Ordinal);
            Directory.Move(Destination, old);
            Directory.Move(TemporaryPath, Destination);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(TemporaryPath, Destination);
        }
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        if (IsFolder && Directory.Exists(TemporaryPath)) Directory.Delete(TemporaryPath, recursive: true);
        else if (!IsFolder && File.Exists(TemporaryPath)) File.Delete(TemporaryPath);
    }
}
