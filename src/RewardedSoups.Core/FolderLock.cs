using System.Globalization;

namespace RewardedSoups;

/// <summary>
/// An exclusive lock on a folder for as long as one process works in it (a run folder for
/// <c>soup run</c>, a job folder for a job): a second process is refused with one line naming the holder's
/// PID, instead of both running the same jobs and garbling their logs. The lock is the operating system's
/// (an <c>flock</c> on <c>FOLDER/.lock</c>, which .NET takes for <see cref="FileShare.None"/>), so it dies
/// with its process: a lock left by a killed process is taken over by the next one without a word. The
/// holder's PID is written beside it in <c>.lock.pid</c> (.NET cannot read a file another process holds so).
/// </summary>
public sealed class FolderLock : IDisposable
{
    public const string FileName = ".lock";

    public const string HolderFileName = ".lock.pid";

    private readonly FileStream _stream;

    private FolderLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock of <paramref name="folder"/> (created if missing); <paramref name="what"/> names it in the refusal ("run folder", "job 's1-init'").</summary>
    public static FolderLock Acquire(string folder, string what)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new FolderInUseException($"{folder}: {what} is in use by process {Holder(path)}; wait for it to finish, or stop it, and run again");
        }
        // Who holds it, for the refusal a second process prints.
        Checkpoints.AtomicOutput.WriteAllText(Path.Combine(folder, HolderFileName), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        return new FolderLock(stream);
    }

    private static string Holder(string lockPath)
    {
        try
        {
            string text = File.ReadAllText(Path.Combine(Path.GetDirectoryName(lockPath)!, HolderFileName)).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid.ToString(CultureInfo.InvariantCulture) : "(unknown)";
        }
        catch (IOException)
        {
            return "(unknown)";
        }
    }

    /// <summary>Releases the lock (the file stays: removing it would race with the next process taking it).</summary>
    public void Dispose() => _stream.Dispose();
}

/// <summary>Another live process holds a folder's lock: exit status 1, one line naming its PID.</summary>
public sealed class FolderInUseException(string message) : IOException(message);
