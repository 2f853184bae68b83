using System.Collections.Concurrent;
using System.Text.Json;

namespace Pipeline.Core.Engine;

/// <summary>Per-file content hashes remembered by (path, size, modification time).</summary>
/// <remarks>
/// A no-op build must not re-read gigabytes of images and shards: a file whose size and mtime are unchanged
/// is taken to have unchanged content, as git's index and DVC's state database do.
/// </remarks>
public sealed class FileHashCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);
    private readonly string? _path;
    private bool _dirty;

    private static readonly TimeSpan RacyWindow = TimeSpan.FromSeconds(2);

    private FileHashCache(string? path) => _path = path;

    public static FileHashCache InMemory() => new(null);

    public static FileHashCache Open(string path)
    {
        var cache = new FileHashCache(path);
        if (File.Exists(path))
        {
            try
            {
                var entries = JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllBytes(path));
                foreach (var (key, value) in entries ?? [])
                {
                    if (value is { Hash: not null })
                    {
                        cache._entries[key] = value;
                    }
                }
            }
            catch (JsonException)
            {
                // The cache only saves time; a damaged one is rebuilt by hashing again.
            }
        }
        return cache;
    }

    public string Hash(string path) =>
        TryHash(path) ?? throw new FileNotFoundException($"{path}: file not found", path);

    /// <summary>The file's content hash, or null when there is no such file (one stat either way).</summary>
    public string? TryHash(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists)
        {
            return null;
        }
        var stamp = info.LastWriteTimeUtc.Ticks;
        _seen.TryAdd(full, 0);
        if (_entries.TryGetValue(full, out var known) && known.Size == info.Length && known.Mtime == stamp)
        {
            return known.Hash;
        }
        var hash = ContentHash.OfFile(full);
        // A file written moments ago may be written again within the same timestamp tick ("racily clean" in git's
        // words): its size and mtime would then not show the change, so such hashes are not remembered yet.
        if (DateTime.UtcNow - info.LastWriteTimeUtc > RacyWindow)
        {
            Remember(full, info.Length, stamp, hash);
        }
        return hash;
    }

    /// <summary>Records a hash computed elsewhere (e.g. of an output before it was renamed into place).</summary>
    public void Remember(string path, string hash)
    {
        var info = new FileInfo(path);
        Remember(Path.GetFullPath(path), info.Length, info.LastWriteTimeUtc.Ticks, hash);
    }

    private void Remember(string full, long size, long mtime, string hash)
    {
        _entries[full] = new Entry(size, mtime, hash);
        _seen.TryAdd(full, 0);
        _dirty = true;
    }

    public void Save()
    {
        if (_path is null || !_dirty)
        {
            return;
        }
        // Files looked at in this session exist; only the others are checked, so deleted files' entries go
        // without a stat of every file on every save.
        var live = _entries.Where(p => _seen.ContainsKey(p.Key) || File.Exists(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal)
            .ToDictionary(p => p.Key, p => p.Value);
        AtomicFile.WriteAllBytes(_path, JsonSerializer.SerializeToUtf8Bytes(live));
        _dirty = false;
    }

    public sealed record Entry(long Size, long Mtime, string Hash);
}
