using System.Text.Json;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.App;

/// <summary>
/// A run's computed soups on disk (<c>RUN_DIR/app-cache/soup-KEY.json</c>), at most
/// <see cref="LimitBytes"/> in all: before a new entry is written, the least recently used ones are
/// deleted to make room; an entry larger than the whole limit is not kept. The order of use is kept in
/// memory and, across restarts, in the files' modification times (a hit touches its file): at start the
/// folder is read back oldest first and trimmed to the limit, so a cache left by an older, unbounded app
/// shrinks when the app starts. Only this process is assumed to write the folder.
/// </summary>
public sealed class SoupCache
{
    private readonly object _lock = new();
    private readonly LinkedList<Entry> _recent = new(); // most recently used first
    private readonly Dictionary<string, LinkedListNode<Entry>> _index = new(StringComparer.Ordinal);
    private long _bytes;

    public SoupCache(string dir, long limitBytes)
    {
        if (limitBytes < 0) throw new ArgumentOutOfRangeException(nameof(limitBytes), limitBytes, "cannot be negative");
        Dir = dir;
        LimitBytes = limitBytes;
        if (!Directory.Exists(dir)) return;
        // Temporaries of a write that was killed; never read.
        foreach (string stale in Directory.EnumerateFiles(dir, ".soup-*.json.tmp-*")) File.Delete(stale);
        var found = new DirectoryInfo(dir).EnumerateFiles("soup-*.json").OrderBy(f => f.LastWriteTimeUtc).ToList();
        foreach (FileInfo file in found)
        {
            var entry = new Entry(file.Name["soup-".Length..^".json".Length], file.Length) { Written = true };
            _index[entry.Key] = _recent.AddFirst(entry);
            _bytes += entry.Bytes;
        }
        foreach (Entry victim in EvictUntil(LimitBytes)) Delete(PathOf(victim.Key));
    }

    public string Dir { get; }

    /// <summary>The most the entries may take together, in bytes (0: nothing is kept).</summary>
    public long LimitBytes { get; }

    /// <summary>What the entries take together, in bytes.</summary>
    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    public int Count
    {
        get { lock (_lock) return _index.Count; }
    }

    /// <summary>Whether <paramref name="key"/> has an entry (written or being written).</summary>
    public bool Contains(string key)
    {
        lock (_lock) return _index.ContainsKey(key);
    }

    /// <summary>The entry's bytes (a JSON object), now the most recently used; null if absent, unreadable or not JSON.</summary>
    public byte[]? TryGet(string key)
    {
        LinkedListNode<Entry>? node;
        lock (_lock)
        {
            if (!_index.TryGetValue(key, out node) || !node.Value.Written) return null;
            _recent.Remove(node);
            _recent.AddFirst(node);
        }
        string path = PathOf(key);
        try
        {
            byte[] body = File.ReadAllBytes(path);
            if (IsJsonObject(body))
            {
                File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
                return body;
            }
        }
        catch (IOException)
        {
            // Deleted behind our back (e.g. by hand): a miss.
        }
        lock (_lock)
        {
            if (Forget(node)) Delete(path);
        }
        return null;
    }

    /// <summary>Stores <paramref name="body"/> as <paramref name="key"/>'s entry, first deleting least recently used entries to make room.</summary>
    public void Put(string key, byte[] body)
    {
        string path = PathOf(key);
        var entry = new Entry(key, body.Length);
        LinkedListNode<Entry> node;
        lock (_lock)
        {
            if (_index.TryGetValue(key, out LinkedListNode<Entry>? old) && Forget(old)) Delete(path);
            if (body.Length > LimitBytes) return;
            // Deleted before the new file is written, under the lock: the folder never holds more than the limit.
            foreach (Entry victim in EvictUntil(LimitBytes - body.Length)) Delete(PathOf(victim.Key));
            node = _recent.AddFirst(entry);
            _index[key] = node;
            _bytes += entry.Bytes;
        }
        try
        {
            Directory.CreateDirectory(Dir);
            AtomicOutput.WriteAllBytes(path, body);
        }
        catch
        {
            lock (_lock) Forget(node);
            throw;
        }
        lock (_lock)
        {
            if (node.List is not null) entry.Written = true;
            // Evicted while it was written (many writes at once, small limit): its file goes too.
            else if (!_index.ContainsKey(key)) Delete(path);
        }
    }

    private string PathOf(string key) => Path.Combine(Dir, $"soup-{key}.json");

    /// <summary>Deletes a file if it is there (its folder may have been deleted too).</summary>
    private static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing to delete.
        }
    }

    /// <summary>Drops least recently used entries from the index (under the lock) until the rest take at most <paramref name="bytes"/>; the caller deletes their files.</summary>
    private List<Entry> EvictUntil(long bytes)
    {
        var victims = new List<Entry>();
        while (_bytes > bytes && _recent.Last is { } last)
        {
            _recent.RemoveLast();
            _index.Remove(last.Value.Key);
            _bytes -= last.Value.Bytes;
            victims.Add(last.Value);
        }
        return victims;
    }

    /// <summary>Drops an entry from the index (under the lock); false if it was gone already.</summary>
    private bool Forget(LinkedListNode<Entry> node)
    {
        if (node.List is null) return false;
        _recent.Remove(node);
        _index.Remove(node.Value.Key);
        _bytes -= node.Value.Bytes;
        return true;
    }

    /// <summary>Whether the bytes are one well-formed JSON object (a damaged entry is recomputed, never served).</summary>
    private static bool IsJsonObject(byte[] body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed class Entry(string key, long bytes)
    {
        public string Key { get; } = key;

        public long Bytes { get; } = bytes;

        /// <summary>False while its file is being written: not served yet, but its room is taken.</summary>
        public bool Written { get; set; }
    }
}
