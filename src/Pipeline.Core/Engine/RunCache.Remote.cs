using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Pipeline.Core.Engine.Proto;

namespace Pipeline.Core.Engine;

/// <summary>
/// The run-cache's remote half: a local miss is looked up in the remote cache and what it holds is brought into the
/// local cache first (read-through); runs stored during a build are uploaded when the build ends (write-behind).
/// </summary>
/// <remarks>
/// An entry is an REAPI ActionResult under ac/&lt;sha256("pipeline run-cache v1\n" stage "\n" fingerprint)&gt;:
/// each output file with its path under artifacts/&lt;dataset&gt; and the SHA-256 digest of its blob in cas/; a folder
/// output as an output directory whose tree is empty (its files are listed as files). Blobs go up before the entry
/// that names them, so a build killed mid-upload leaves no entry naming a missing blob. An unreachable or failing
/// remote is a warning, once, and the build goes on with the local cache alone.
/// </remarks>
public sealed partial class RunCache
{
    /// <summary>The tree of a folder output: an empty root; the files in the folder are output files of their own.</summary>
    private static readonly byte[] EmptyTree = new Tree { Root = new Proto.Directory() }.ToByteArray();

    private readonly List<(string Stage, string Fingerprint)> _pending = [];

    /// <summary>Blobs the remote sent damaged: uploaded again without asking whether it has them.</summary>
    private readonly HashSet<string> _damaged = new(StringComparer.Ordinal);

    /// <summary>Why the remote is no longer used in this process; null while it is.</summary>
    private string? _remoteDown;

    /// <summary>The remote cache behind the local folder; null for none.</summary>
    public HttpCache? Remote { get; }

    /// <summary>Whether the remote is set and has not failed in this process.</summary>
    private bool RemoteUsable => Remote is not null && _remoteDown is null;

    /// <summary>The action-cache key of a stage run.</summary>
    public static string ActionKey(string stage, string fingerprint) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"pipeline run-cache v1\n{stage}\n{fingerprint}")));

    /// <summary>Brings a run from the remote into the local cache; false when the remote has none (or a damaged one, or is down).</summary>
    private bool Fetch(string stage, string fingerprint, Action<string> log)
    {
        if (!RemoteUsable)
        {
            return false;
        }
        var key = ActionKey(stage, fingerprint);
        var temps = new List<string>();
        string? current = null;
        try
        {
            var bytes = Remote!.GetActionResult(key);
            if (bytes is null)
            {
                return false;
            }
            var result = ParseActionResult(bytes, stage, key, log);
            if (result is null)
            {
                return false;
            }
            var outputs = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var folder in result.OutputDirectories)
            {
                outputs[folder.Path + "/"] = FolderMarker;
            }
            long bytesMoved = 0;
            foreach (var file in result.OutputFiles)
            {
                current = file.Digest.Hash;
                var temp = Path.Combine(Directory, "objects", $"remote.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
                temps.Add(temp);
                if (!Remote.GetBlob(file.Digest.Hash, file.Digest.SizeBytes, temp))
                {
                    log($"warning: the remote cache's entry of {stage} names cas/{file.Digest.Hash} ({file.Path}), which it does not hold; the stage runs");
                    return false;
                }
                bytesMoved += file.Digest.SizeBytes;
                var hash = ContentHash.OfFile(temp);
                var target = ObjectPath(hash);
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Move(temp, target, overwrite: true);
                outputs[file.Path] = hash;
            }
            WriteEntry(stage, fingerprint, outputs);
            log($"  downloaded from the remote cache {Remote.Display}: {result.OutputFiles.Count} file{(result.OutputFiles.Count == 1 ? "" : "s")}, {bytesMoved / 1048576.0:0.0} MB");
            return true;
        }
        catch (RemoteCacheException e) when (e.Damaged)
        {
            _damaged.Add(current!);
            log($"warning: the remote cache {Remote!.Display} sent a damaged blob for {stage}: {e.Message}; it is discarded and the stage runs");
            return false;
        }
        catch (RemoteCacheException e)
        {
            Down(e.Message, log);
            return false;
        }
        finally
        {
            temps.ForEach(TryDelete);
        }
    }

    /// <summary>The entry, or null (with a warning) when it is not a well-formed one: then it is a miss, overwritten when the stage is stored.</summary>
    private ActionResult? ParseActionResult(byte[] bytes, string stage, string key, Action<string> log)
    {
        string? problem = null;
        ActionResult? result = null;
        try
        {
            result = ActionResult.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            problem = e.Message;
        }
        if (result is not null)
        {
            var paths = result.OutputFiles.Select(f => f.Path).Concat(result.OutputDirectories.Select(d => d.Path)).ToList();
            if (result.OutputFiles.Count == 0 && result.OutputDirectories.Count == 0)
            {
                problem = "it lists no outputs";
            }
            else if (paths.FirstOrDefault(p => !IsInside(p)) is { } outside)
            {
                problem = $"output \"{outside}\" is not a path inside the stage's outputs";
            }
            else if (result.OutputFiles.FirstOrDefault(f => f.Digest is null || f.Digest.Hash.Length != 64 || !f.Digest.Hash.All(char.IsAsciiHexDigitLower) || f.Digest.SizeBytes < 0) is { } bad)
            {
                problem = $"output \"{bad.Path}\" has no SHA-256 digest";
            }
        }
        if (problem is null)
        {
            return result;
        }
        log($"warning: the remote cache's entry ac/{key} of {stage} is damaged ({problem}); it is ignored and the stage runs");
        return null;
    }

    private static bool IsInside(string path) =>
        path.Length > 0 && !Path.IsPathRooted(path) && !path.Split('/').Any(part => part is "" or "." or "..") && !path.Contains('\\', StringComparison.Ordinal);

    /// <summary>
    /// Uploads the runs stored since the last flush, saying so for each; a remote that fails is a warning, never a
    /// failed build, and the runs not uploaded stay in the local cache for `pipeline cache push`.
    /// </summary>
    public void Flush(Action<string> log)
    {
        if (Remote is null || _pending.Count == 0)
        {
            return;
        }
        var pending = _pending.ToList();
        _pending.Clear();
        for (var i = 0; i < pending.Count; i++)
        {
            var (stage, fingerprint) = pending[i];
            if (Upload(stage, fingerprint, log) is not { } sent)
            {
                var left = pending.Count - i;
                log($"warning: {left} run{(left == 1 ? "" : "s")} stayed in the local cache only; `pipeline cache push` uploads them later");
                return;
            }
            log($"  uploaded {stage}'s run to the remote cache {Remote.Display}: {sent.Blobs} blob{(sent.Blobs == 1 ? "" : "s")}, "
                + $"{sent.Bytes / 1048576.0:0.0} MB ({sent.Skipped} already there)");
        }
    }

    /// <summary>What one upload sent.</summary>
    public sealed record Uploaded(int Blobs, int Skipped, long Bytes);

    /// <summary>Uploads a stored run (its blobs, then its entry); null when the remote cannot be used (said once, as a warning).</summary>
    public Uploaded? Upload(string stage, string fingerprint, Action<string> log)
    {
        if (!RemoteUsable)
        {
            return null;
        }
        SortedDictionary<string, string>? outputs;
        try
        {
            outputs = ReadEntry(EntryPath(stage, fingerprint));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            outputs = null;
        }
        if (outputs is null)
        {
            // Collected (or damaged) since it was stored: nothing to upload, and nothing wrong with the remote.
            log($"warning: {stage}'s run (fingerprint {ContentHash.Short(fingerprint)}) is no longer in the local cache; it was not uploaded");
            return new Uploaded(0, 0, 0);
        }
        try
        {
            var result = new ActionResult();
            var (blobs, skipped, bytes) = (0, 0, 0L);
            foreach (var (relative, hash) in outputs)
            {
                if (hash == FolderMarker)
                {
                    result.OutputDirectories.Add(new OutputDirectory { Path = relative.TrimEnd('/'), TreeDigest = UploadTree(ref blobs, ref skipped) });
                    continue;
                }
                var source = ObjectPath(hash);
                var sha256 = HttpCache.Sha256(source);
                var size = new FileInfo(source).Length;
                if (_damaged.Contains(sha256) || !Remote!.HasBlob(sha256))
                {
                    Remote!.PutBlob(sha256, source);
                    blobs++;
                    bytes += size;
                }
                else
                {
                    skipped++;
                }
                result.OutputFiles.Add(new OutputFile { Path = relative, Digest = new Digest { Hash = sha256, SizeBytes = size } });
            }
            Remote!.PutActionResult(ActionKey(stage, fingerprint), result.ToByteArray());
            return new Uploaded(blobs, skipped, bytes);
        }
        catch (RemoteCacheException e)
        {
            Down(e.Message, log);
            return null;
        }
        catch (IOException e)
        {
            // The local object went missing or unreadable: that run cannot be uploaded, the others still can.
            log($"warning: {stage}'s run was not uploaded to the remote cache: {e.Message}");
            return new Uploaded(0, 0, 0);
        }
    }

    private Digest UploadTree(ref int blobs, ref int skipped)
    {
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(EmptyTree));
        if (Remote!.HasBlob(sha256))
        {
            skipped++;
        }
        else
        {
            var temp = Path.Combine(Directory, "objects", $"tree.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
            File.WriteAllBytes(temp, EmptyTree);
            try
            {
                Remote.PutBlob(sha256, temp);
            }
            finally
            {
                TryDelete(temp);
            }
            blobs++;
        }
        return new Digest { Hash = sha256, SizeBytes = EmptyTree.Length };
    }

    private void Down(string why, Action<string> log)
    {
        _remoteDown = why;
        log($"warning: the remote cache {Remote!.Display} cannot be used ({why}); the build goes on with the local cache alone");
    }
}
