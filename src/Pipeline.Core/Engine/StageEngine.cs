using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>Decides whether a stage is stale, says why, and rebuilds it so a crash never leaves it looking fresh.</summary>
public sealed class StageEngine
{
    /// <summary>The lock entry's value for an output that is a folder ("records/"): it must exist.</summary>
    private const string FolderMarker = "folder";

    private readonly string _artifacts;
    private readonly string _displayRoot;
    private readonly FileHashCache _hashes;
    private readonly Action<string> _log;
    private readonly RunCache? _cache;

    /// <param name="artifactsDirectory">artifacts/&lt;dataset&gt;: outputs, the lock file and temporary folders.</param>
    /// <param name="displayRoot">Paths under it are shown and recorded relative to it (the repository root).</param>
    /// <param name="cache">Where runs are stored and restored from; null for none.</param>
    public StageEngine(string artifactsDirectory, string displayRoot, FileHashCache hashes, Action<string> log, RunCache? cache = null)
    {
        _cache = cache;
        _artifacts = Path.GetFullPath(artifactsDirectory);
        _displayRoot = Path.GetFullPath(displayRoot);
        _hashes = hashes;
        _log = log;
    }

    public string LockPath => Path.Combine(_artifacts, LockFile.FileName);

    public StageStatus Check(IStage stage, bool force = false) => Evaluate(stage, force).Status;

    private Evaluation Evaluate(IStage stage, bool force)
    {
        var declaration = stage.Declare();
        var declared = declaration.Hashed;
        var hashed = HashInputs(declared);
        var missing = Missing(declared, hashed);
        if (missing.Count > 0)
        {
            var absent = missing.Select(name => declared.OfType<FileInput>().First(i => i.Name == name)).ToList();
            var reason = StalenessReasons.Describe("input", [.. absent.Select(i => Display(i.Path))], "missing");
            var hints = absent.Select(i => i.WhenMissing).OfType<string>().Distinct().ToList();
            return new Evaluation(new StageStatus(stage.Name, false, [hints.Count > 0 ? $"{reason}: {string.Join("; ", hints)}" : reason], ""), declaration, null, null);
        }
        var inputs = new SortedDictionary<string, string>(hashed!, StringComparer.Ordinal);
        var fingerprint = Fingerprint(stage, declaration.Parameters, inputs);
        var lockFile = LockFile.Load(LockPath);
        var entry = lockFile.Find(stage.Name);

        var reasons = new List<string>();
        if (force)
        {
            reasons.Add("forced (--force)");
        }
        if (entry is null)
        {
            reasons.Add("never built (no entry in pipeline.lock.json)");
            return new Evaluation(new StageStatus(stage.Name, false, reasons, fingerprint), declaration, inputs, lockFile);
        }

        if (entry.Implementation != stage.ImplementationVersion)
        {
            reasons.Add($"implementation changed (v{entry.Implementation} → v{stage.ImplementationVersion})");
        }
        // Forced, a stage computes from scratch; otherwise only saved state of this very computation is continued.
        Func<string?>? resumePoint = !force && stage is IResumable resumable
            ? () => resumable.ResumePoint(ResumeKey(stage, declaration, inputs))
            : null;
        reasons.AddRange(StalenessReasons.ForParameters(entry.Parameters, declaration.Parameters, declaration.Extendable, resumePoint));
        reasons.AddRange(StalenessReasons.ForInputs(entry.Inputs, inputs));
        reasons.AddRange(OutputProblems(entry));
        if (reasons.Count == 0 && entry.Fingerprint != fingerprint)
        {
            reasons.Add($"fingerprint changed ({ContentHash.Short(entry.Fingerprint)} → {ContentHash.Short(fingerprint)})");
        }

        // Hashes learned while checking are worth keeping even when nothing runs: a touched but unchanged
        // folder of images is then read once, not on every build.
        SaveHashes();
        var fresh = reasons.Count == 0;
        if (fresh)
        {
            reasons.Add($"up to date ({Count(inputs.Count, "input")}, {Count(entry.Outputs.Count, "output")} unchanged)");
        }
        return new Evaluation(new StageStatus(stage.Name, fresh, reasons, fingerprint), declaration, inputs, lockFile);
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    /// <param name="LockFile">As the check read it: only this engine writes it, and only while it holds the artifacts lock.</param>
    private sealed record Evaluation(StageStatus Status, StageDeclaration Declaration, SortedDictionary<string, string>? Inputs, LockFile? LockFile);

    /// <summary>Runs the stage if it is stale (or forced): outputs are built in a temporary folder and renamed into place.</summary>
    /// <param name="starting">Told the verdict just before a stale stage starts, so the reason is shown before the work.</param>
    /// <param name="restoreOnly">Restore a stale stage from the run-cache, or throw; never run it (unless it is never cached, as Export).</param>
    /// <exception cref="PipelineException">The stage failed, or with <paramref name="restoreOnly"/> the run-cache has no run of it.</exception>
    public StageOutcome Run(IStage stage, bool force = false, CancellationToken cancellation = default, Action<StageStatus>? starting = null, bool restoreOnly = false)
    {
        var clock = Stopwatch.StartNew();
        var phases = new PhaseTimer(clock);
        var (status, declaration, inputs, lockFile) = Evaluate(stage, force);
        phases.Mark("check");
        if (status.IsFresh)
        {
            return new StageOutcome(status, Ran: false, OutputsChanged: false, clock.Elapsed);
        }
        starting?.Invoke(status);
        if (inputs is null || lockFile is null)
        {
            throw new PipelineException($"cannot build {stage.Name}: {status.Summary}");
        }
        var fingerprint = status.Fingerprint;
        var scratch = Path.Combine(_artifacts, ".tmp");
        var temp = Path.Combine(scratch, $"{stage.Name}-{Guid.NewGuid():N}");
        DeleteLeftovers(scratch);
        DeleteLockFileLeftovers();
        Directory.CreateDirectory(temp);
        Task? replaced = null;
        string? newLockFile = null;
        OutputReplacement? replacement = null;
        try
        {
            // --force means "compute it again", so it never restores.
            var restored = force || !declaration.Cacheable ? null : Restore(stage, fingerprint, declaration, temp);
            SortedDictionary<string, string> outputs;
            if (restored is not null)
            {
                outputs = restored.Outputs;
            }
            else if (restoreOnly && declaration.Cacheable)
            {
                throw new PipelineException(_cache is null
                    ? $"{stage.Name} is stale and the run-cache is off, so it cannot be restored; build it"
                    : $"{stage.Name} is stale and the run-cache ({_cache.Describe(Display)}) has no run of it (fingerprint {ContentHash.Short(fingerprint)}); build it");
            }
            else
            {
                var run = new StageRun(temp, _log, cancellation, ResumeKey(stage, declaration, inputs), force, lockFile.Find(stage.Name)?.Outputs);
                stage.Run(run);
                cancellation.ThrowIfCancellationRequested();
                phases.Mark("run");
                outputs = HashOutputs(run, declaration.Outputs, stage.Name);
            }
            phases.Mark(restored is null ? "hash outputs" : "restore");
            var previous = lockFile.Find(stage.Name);
            var changed = previous is null || !previous.Outputs.OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(outputs.OrderBy(p => p.Key, StringComparer.Ordinal));

            // The new lock file is written in full before any output moves, and renamed over the old one after they
            // all have: a disk too full to hold it fails the run with the previous outputs and record untouched. A
            // crash between the moves and the rename leaves the old entry, whose hashes the new outputs do not
            // match (and its fingerprint is not the current one anyway), so the stage stays stale.
            lockFile.Set(new LockEntry(stage.Name, fingerprint, stage.ImplementationVersion,
                (JsonObject)declaration.Parameters.DeepClone(), inputs, outputs));
            newLockFile = lockFile.SaveBeside(LockPath);
            phases.Mark("lock file");
            replacement = OutputReplacement.Move(temp, _artifacts, declaration.Outputs, Path.Combine(scratch, $"replaced-{Guid.NewGuid():N}"));
            File.Move(newLockFile, LockPath, overwrite: true);
            newLockFile = null;
            // The replaced outputs are deleted on another thread while the caches are written.
            replaced = replacement.DeleteReplaced();
            replacement = null;
            phases.Mark("move into place");
            foreach (var (relative, hash) in outputs.Where(p => p.Value != FolderMarker))
            {
                _hashes.Remember(Path.Combine(_artifacts, relative), hash);
            }
            SaveHashes();
            phases.Mark("hash cache");
            if (restored is null && declaration.Cacheable && _cache is not null)
            {
                Store(stage, fingerprint, outputs);
                phases.Mark("run-cache");
            }
            WaitForDeletion(ref replaced, warn: true);
            phases.Mark("delete replaced");
            phases.Report(stage.Name, _log);
            return new StageOutcome(status, Ran: true, OutputsChanged: changed, clock.Elapsed, Restored: restored is not null);
        }
        catch (Exception e) when (DiskFull.Find(e) is { } full)
        {
            // The new lock file is written under a hidden temporary name, gone by now: name the file a person knows.
            throw DiskFull.Error(full, temp, path => Display(Path.GetFileName(path).StartsWith($".{LockFile.FileName}.", StringComparison.Ordinal) ? LockPath : path),
                $"building {stage.Name}");
        }
        finally
        {
            // Until the new lock file is in place, a failure puts the previous outputs back.
            if (replacement is not null && !replacement.Undo())
            {
                _log($"warning: not every output {stage.Name} replaced could be put back; the stage is stale and rebuilds");
            }
            if (newLockFile is not null)
            {
                File.Delete(newLockFile);
            }
            // A failure after the move still waits for the deletion: nothing may touch the artifacts folder after
            // Run returns.
            WaitForDeletion(ref replaced, warn: false);
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>Keeps the hashes learned; a disk too full for them is a warning, since they only save reading files again.</summary>
    private void SaveHashes()
    {
        try
        {
            _hashes.Save();
        }
        catch (IOException e) when (DiskFull.Find(e) is not null)
        {
            _log($"warning: file hashes were not saved, the disk is full ({e.Message}); the next build hashes those files again");
        }
    }

    /// <summary>The stage's outputs from the run-cache into <paramref name="temp"/>, or null when it has none (or a damaged one).</summary>
    private RunCache.Restored? Restore(IStage stage, string fingerprint, StageDeclaration declaration, string temp)
    {
        var restored = _cache?.TryRestore(stage.Name, fingerprint, temp, _log);
        if (restored is null)
        {
            return null;
        }
        var missing = declaration.Outputs.Where(o => !File.Exists(Path.Combine(temp, o)) && !Directory.Exists(Path.Combine(temp, o))).ToList();
        if (missing.Count > 0)
        {
            _log($"warning: the run-cache entry of {stage.Name} lacks {string.Join(", ", missing)}; the stage runs");
            return null;
        }
        _log($"  restored from the run-cache ({Display(_cache!.Directory)}): {restored.Files} file{(restored.Files == 1 ? "" : "s")}, "
            + $"{restored.Bytes / 1048576.0:0.0} MB, fingerprint {ContentHash.Short(fingerprint)}");
        return restored;
    }

    /// <summary>Keeps a finished run for later restores; a cache that cannot be written is a warning, never a failed build.</summary>
    private void Store(IStage stage, string fingerprint, IReadOnlyDictionary<string, string> outputs)
    {
        try
        {
            _cache!.Store(stage.Name, fingerprint, outputs, _artifacts);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log($"warning: {stage.Name} was not stored in the run-cache ({Display(_cache!.Directory)}): {e.Message}");
        }
    }

    /// <summary>Hashes every input; a missing file hashes to null (stale for a check, an error for a run).</summary>
    private SortedDictionary<string, string?> HashInputs(IReadOnlyList<StageInput> inputs)
    {
        var duplicate = inputs.GroupBy(i => i.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new PipelineException($"input \"{duplicate.Key}\" is declared twice");
        }
        var hashes = new string?[inputs.Count];
        Parallel.For(0, inputs.Count, i => hashes[i] = inputs[i] switch
        {
            FileInput file => _hashes.TryHash(file.Path),
            ListingInput listing => ContentHash.OfText(string.Join('\n', listing.Entries)),
            _ => throw new NotSupportedException(inputs[i].GetType().Name),
        });
        var result = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < inputs.Count; i++)
        {
            result[inputs[i].Name] = hashes[i];
        }
        return result;
    }

    private static IReadOnlyList<string> Missing(IReadOnlyList<StageInput> inputs, SortedDictionary<string, string?> hashes) =>
        inputs.OfType<FileInput>().Where(i => hashes[i.Name] is null).Select(i => i.Name).ToList();

    private static string ResumeKey(IStage stage, StageDeclaration declaration, SortedDictionary<string, string> inputs)
    {
        var parameters = (JsonObject)declaration.Parameters.DeepClone();
        foreach (var path in declaration.Extendable.Concat(declaration.Partitioning))
        {
            var parts = path.Split('.');
            var parent = parts[..^1].Aggregate((JsonNode?)parameters, (node, part) => node?[part]);
            (parent as JsonObject)?.Remove(parts[^1]);
        }
        return Fingerprint(stage, parameters, inputs);
    }

    private static string Fingerprint(IStage stage, JsonObject parameters, SortedDictionary<string, string> inputs)
    {
        var inputsJson = new JsonObject();
        foreach (var (name, hash) in inputs)
        {
            inputsJson[name] = hash;
        }
        var identity = new JsonObject
        {
            ["stage"] = stage.Name,
            ["implementation"] = stage.ImplementationVersion,
            ["parameters"] = parameters.DeepClone(),
            ["inputs"] = inputsJson,
        };
        return ContentHash.OfText(CanonicalJson.Serialize(identity));
    }

    private IEnumerable<string> OutputProblems(LockEntry entry)
    {
        var missing = new List<string>();
        var modified = new List<string>();
        foreach (var (relative, recorded) in entry.Outputs)
        {
            var path = Path.Combine(_artifacts, relative);
            if (recorded == FolderMarker)
            {
                if (!Directory.Exists(path))
                {
                    missing.Add(relative);
                }
            }
            else if (!File.Exists(path))
            {
                missing.Add(relative);
            }
            else if (_hashes.Hash(path) != recorded)
            {
                modified.Add(relative);
            }
        }
        if (missing.Count > 0)
        {
            yield return StalenessReasons.Describe("output", missing, "missing");
        }
        if (modified.Count > 0)
        {
            yield return StalenessReasons.Describe("output", modified, "modified since it was built");
        }
    }

    private SortedDictionary<string, string> HashOutputs(StageRun run, IReadOnlyList<string> declared, string stage)
    {
        var root = run.OutputRoot;
        var files = new List<string>();
        var folders = new List<string>();
        foreach (var output in declared)
        {
            var path = Path.Combine(root, output);
            if (File.Exists(path))
            {
                files.Add(output);
            }
            else if (Directory.Exists(path))
            {
                // The folder itself is recorded too, so deleting an output folder that came out empty still shows.
                folders.Add(output.TrimEnd('/') + "/");
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')));
            }
            else
            {
                throw new PipelineException($"stage {stage} finished without writing its declared output {output}");
            }
        }
        var hashes = new string[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            var path = Path.Combine(root, files[i]);
            // A file hashed as it was written is trusted only if nothing changed its length since.
            hashes[i] = run.WrittenHashes.TryGetValue(files[i], out var written) && written.Length == new FileInfo(path).Length
                ? written.Hash
                : ContentHash.OfFile(path);
        });
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < files.Count; i++)
        {
            result[files[i]] = hashes[i];
        }
        foreach (var folder in folders)
        {
            result[folder] = FolderMarker;
        }
        return result;
    }

    /// <summary>
    /// Waits for the replaced outputs to be deleted. The stage is built and recorded by then, so a deletion that
    /// failed is no failed build: its folder is left to the next run's DeleteLeftovers.
    /// </summary>
    private void WaitForDeletion(ref Task? deletion, bool warn)
    {
        try
        {
            deletion?.Wait();
        }
        catch (AggregateException e)
        {
            if (warn)
            {
                _log($"warning: the outputs this run replaced were not all deleted ({e.InnerException?.Message}); the next run deletes them");
            }
        }
        finally
        {
            deletion = null;
        }
    }

    /// <summary>
    /// A new lock file written beside the old one and never renamed over it: its run was killed while moving outputs.
    /// It records nothing (the old lock file is the record), and only one run holds the folder, so it can go.
    /// </summary>
    private void DeleteLockFileLeftovers()
    {
        if (!Directory.Exists(_artifacts))
        {
            return;
        }
        foreach (var leftover in Directory.EnumerateFiles(_artifacts, $".{Path.GetFileName(LockPath)}.*.tmp"))
        {
            File.Delete(leftover);
        }
    }

    private static void DeleteLeftovers(string scratch)
    {
        if (!Directory.Exists(scratch))
        {
            return;
        }
        // Left by runs that were killed, of any stage: only one run holds the artifacts folder at a time (the
        // caller holds its lock), so none of them is in use.
        foreach (var leftover in Directory.EnumerateDirectories(scratch))
        {
            Directory.Delete(leftover, recursive: true);
        }
    }

    public string Display(string path) => DisplayPath.Relative(path, _displayRoot);
}
