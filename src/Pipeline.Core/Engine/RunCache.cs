using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>
/// A content-addressed cache of stage runs, like DVC's run-cache and Bazel's action cache: every successful run
/// stores its outputs under the stage's fingerprint, and a stale stage whose fingerprint is there gets its outputs
/// back (verified by hash) instead of being recomputed. Objects are shared between entries, clones and CI jobs
/// that point at the same folder; nothing in it is trusted without checking its hash.
/// </summary>
/// <remarks>
/// Layout: entries/&lt;stage&gt;/&lt;fingerprint&gt;.json lists an entry's outputs and their hashes;
/// objects/&lt;hh&gt;/&lt;hash&gt; holds each file's bytes once. Both are written beside and renamed, so a killed
/// store leaves no half-written object or entry, and concurrent builds sharing a cache only ever race to write the
/// same bytes.
/// </remarks>
public sealed partial class RunCache
{
    /// <summary>Names a cache folder to use instead of artifacts/.cache, or a remote cache's URL; "off" turns the cache off.</summary>
    public const string EnvironmentVariable = "PIPELINE_CACHE";

    private const string FolderMarker = "folder";

    /// <param name="remote">A remote cache behind the folder (see RunCache.Remote.cs); null for none.</param>
    public RunCache(string directory, HttpCache? remote = null)
    {
        Directory = Path.GetFullPath(directory);
        Remote = remote;
    }

    public string Directory { get; }

    /// <summary>
    /// The cache a build uses: <paramref name="given"/> (--cache), else $PIPELINE_CACHE, else the default folder; null
    /// when turned off. A URL names a remote cache, with the default folder in front of it.
    /// </summary>
    /// <exception cref="PipelineException">A URL the remote cache cannot use.</exception>
    public static RunCache? Resolve(string? given, string defaultDirectory)
    {
        var chosen = given ?? Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(chosen))
        {
            return new RunCache(defaultDirectory);
        }
        if (HttpCache.IsUrl(chosen))
        {
            return new RunCache(defaultDirectory, new HttpCache(chosen));
        }
        return chosen.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : new RunCache(chosen);
    }

    /// <summary>Where the cache is, as a log shows it: the folder, and the remote behind it.</summary>
    public string Describe(Func<string, string> display) => Remote is null ? display(Directory) : $"{display(Directory)} and {Remote.Display}";

    /// <summary>What a restore brought back.</summary>
    public sealed record Restored(SortedDictionary<string, string> Outputs, int Files, long Bytes);

    /// <summary>Copies a stored run's outputs into <paramref name="targetRoot"/>, each verified against its hash.</summary>
    /// <returns>The restored outputs, or null on a miss; an entry that fails verification is discarded with a warning.</returns>
    public Restored? TryRestore(string stage, string fingerprint, string targetRoot, Action<string> warn)
    {
        var entryPath = EntryPath(stage, fingerprint);
        if (!File.Exists(entryPath) && !Fetch(stage, fingerprint, warn))
        {
            return null;
        }
        SortedDictionary<string, string>? outputs;
        try
        {
            outputs = ReadEntry(entryPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            warn($"warning: run-cache entry {entryPath} cannot be read ({e.Message}); it is discarded and the stage runs");
            TryDelete(entryPath);
            return null;
        }
        if (outputs is null)
        {
            return null;
        }
        var written = new List<string>();
        long bytes = 0;
        foreach (var (relative, hash) in outputs)
        {
            var target = Path.Combine(targetRoot, relative);
            if (hash == FolderMarker)
            {
                System.IO.Directory.CreateDirectory(target);
                continue;
            }
            var source = ObjectPath(hash);
            string? problem = null;
            try
            {
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(source, target, overwrite: true);
                written.Add(target);
                if (ContentHash.OfFile(target) != hash)
                {
                    problem = $"the stored copy of {relative} does not match its hash";
                    TryDelete(source);
                }
                bytes += new FileInfo(target).Length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"the stored copy of {relative} cannot be read ({e.Message})";
            }
            if (problem is not null)
            {
                warn($"warning: run-cache entry {Path.GetFileName(entryPath)} of {stage} is damaged: {problem}; it is discarded and the stage runs");
                TryDelete(entryPath);
                written.ForEach(TryDelete);
                return null;
            }
        }
        // The entry's time is its last use, which is what `pipeline cache gc --keep-days` goes by; a cache shared
        // read-only cannot record it, which costs nothing but gc's knowledge.
        try
        {
            File.SetLastWriteTimeUtc(entryPath, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return new Restored(outputs, written.Count, bytes);
    }

    /// <summary>Stores a finished run's outputs (files under <paramref name="artifactsDirectory"/>, with their recorded hashes).</summary>
    public void Store(string stage, string fingerprint, IReadOnlyDictionary<string, string> outputs, string artifactsDirectory)
    {
        foreach (var (relative, hash) in outputs)
        {
            if (hash == FolderMarker)
            {
                continue;
            }
            var target = ObjectPath(hash);
            if (File.Exists(target))
            {
                continue;
            }
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temp = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            var source = Path.Combine(artifactsDirectory, relative);
            // A hard link costs nothing however large the output; the object is still verified on every restore, so
            // an artifact later edited in place (which would change the shared bytes) is caught there, not trusted.
            HardLink.CreateOrCopy(source, temp);
            File.Move(temp, target, overwrite: true);
            // rename(2) onto another link to the same file does nothing, leaving the temporary name behind.
            TryDelete(temp);
        }
        WriteEntry(stage, fingerprint, outputs);
        if (Remote is not null)
        {
            _pending.Add((stage, fingerprint));
        }
    }

    private void WriteEntry(string stage, string fingerprint, IReadOnlyDictionary<string, string> outputs)
    {
        var entry = new JsonObject { ["stage"] = stage, ["fingerprint"] = fingerprint, ["outputs"] = ToJson(outputs) };
        AtomicFile.WriteAllText(EntryPath(stage, fingerprint), CanonicalJson.Serialize(entry, indented: true));
    }

    /// <summary>Entries per stage, and the objects' count and size.</summary>
    public CacheSize Size()
    {
        var entries = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var entriesRoot = Path.Combine(Directory, "entries");
        if (System.IO.Directory.Exists(entriesRoot))
        {
            foreach (var stage in System.IO.Directory.EnumerateDirectories(entriesRoot))
            {
                entries[Path.GetFileName(stage)] = System.IO.Directory.EnumerateFiles(stage, "*.json").Count();
            }
        }
        var objects = Objects().ToList();
        return new CacheSize(entries, objects.Count, objects.Sum(o => o.Length));
    }

    /// <summary>Removes entries unused for longer than <paramref name="keep"/>, then every object no remaining entry names.</summary>
    public (int Entries, int Objects, long Bytes) Collect(TimeSpan keep)
    {
        var cutoff = DateTime.UtcNow - keep;
        var removedEntries = 0;
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        var entriesRoot = Path.Combine(Directory, "entries");
        if (System.IO.Directory.Exists(entriesRoot))
        {
            foreach (var path in System.IO.Directory.EnumerateFiles(entriesRoot, "*.json", SearchOption.AllDirectories).ToList())
            {
                SortedDictionary<string, string>? outputs = null;
                try
                {
                    outputs = File.GetLastWriteTimeUtc(path) >= cutoff ? ReadEntry(path) : null;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
                {
                    outputs = null;
                }
                if (outputs is null)
                {
                    TryDelete(path);
                    removedEntries++;
                    continue;
                }
                referenced.UnionWith(outputs.Values);
            }
        }
        var removedObjects = 0;
        long removedBytes = 0;
        // Temporary files of stores that were killed (or lost a race to the same object) go once they are old.
        var root = Path.Combine(Directory, "objects");
        if (System.IO.Directory.Exists(root))
        {
            foreach (var stray in new DirectoryInfo(root).EnumerateFiles("*.tmp", SearchOption.AllDirectories).Where(f => f.LastWriteTimeUtc < DateTime.UtcNow.AddHours(-1)).ToList())
            {
                TryDelete(stray.FullName);
            }
        }
        foreach (var file in Objects().Where(o => !referenced.Contains(o.Name)).ToList())
        {
            removedBytes += file.Length;
            removedObjects++;
            TryDelete(file.FullName);
        }
        return (removedEntries, removedObjects, removedBytes);
    }

    private IEnumerable<FileInfo> Objects()
    {
        var root = Path.Combine(Directory, "objects");
        return System.IO.Directory.Exists(root)
            ? new DirectoryInfo(root).EnumerateFiles("*", SearchOption.AllDirectories).Where(f => !f.Name.EndsWith(".tmp", StringComparison.Ordinal))
            : [];
    }

    /// <summary>
    /// The local cache's own copy of one output file of a stored run (read it, never write it), or null when the
    /// local cache has no such run or file: how a report reads an earlier run's history without restoring it.
    /// </summary>
    public string? StoredOutput(string stage, string fingerprint, string relative)
    {
        try
        {
            return ReadEntry(EntryPath(stage, fingerprint))?.GetValueOrDefault(relative) is { } hash && hash != FolderMarker && File.Exists(ObjectPath(hash))
                ? ObjectPath(hash)
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private string EntryPath(string stage, string fingerprint) => Path.Combine(Directory, "entries", stage, $"{fingerprint}.json");

    private string ObjectPath(string hash) => Path.Combine(Directory, "objects", hash[..2], hash);

    private static SortedDictionary<string, string>? ReadEntry(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        var outputs = JsonNode.Parse(File.ReadAllText(path))?["outputs"]?.AsObject()
            ?? throw new InvalidOperationException("no outputs listed");
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (relative, hash) in outputs)
        {
            var value = hash?.GetValue<string>() ?? throw new InvalidOperationException($"no hash for {relative}");
            if (relative.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(relative)
                || (value != FolderMarker && (value.Length < 3 || !value.All(char.IsAsciiHexDigitLower))))
            {
                throw new InvalidOperationException($"output \"{relative}\" is not a path inside the stage's outputs with a content hash");
            }
            result[relative] = value;
        }
        return result;
    }

    private static JsonObject ToJson(IReadOnlyDictionary<string, string> outputs)
    {
        var json = new JsonObject();
        foreach (var (relative, hash) in outputs)
        {
            json[relative] = hash;
        }
        return json;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next gc; a failed cleanup must not fail the build.
        }
    }
}
