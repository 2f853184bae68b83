using Pipeline.Core.Engine;

namespace Pipeline.Core.Records;

/// <summary>
/// The Records stage spread over machines. Each worker writes its shards and records/parts/part-I-of-N.json (what it
/// wrote, with hashes, under the run's key); once the workers' records/ folders are copied together, the whole stage
/// finds every part, checks the keys and the shards' hashes, and adopts the shards instead of encoding them again.
/// The shards' bytes are the ones a single machine writes, since a shard is a fixed slice of a fixed shuffle.
/// </summary>
internal static class RecordsShares
{
    public sealed record Shard(string Split, string Name, int Examples, IReadOnlyDictionary<string, int> Labels);

    public sealed record Combined(IReadOnlyDictionary<string, RecordsManifest.SplitRecords> Splits, IReadOnlyList<(string Origin, string Error)> Rejects);

    /// <summary>records/parts/part-I-of-N.json: one worker's shards with their hashes and its rejects, under the run's key.</summary>
    private sealed record PartFile(string Key, int Index, int Count, IReadOnlyList<PartShard> Shards, IReadOnlyList<PartReject> Rejects);

    private sealed record PartShard(string Split, string Name, int Examples, IReadOnlyDictionary<string, int> Labels, string Hash);

    private sealed record PartReject(string Origin, string Error);

    private sealed record Part(string Path, PartFile File);

    public static void WritePart(string folder, RecordsShare part, StageRun run, IReadOnlyList<Shard> shards, IReadOnlyList<(string Origin, string Error)> rejects)
    {
        var file = new PartFile(run.ResumeKey, part.Index, part.Count,
            [.. shards.Select(s => new PartShard(s.Split, s.Name, s.Examples, s.Labels, ContentHash.OfFile(Path.Combine(folder, s.Name))))],
            [.. rejects.Select(r => new PartReject(r.Origin, r.Error))]);
        var parts = Path.Combine(folder, RecordsShare.Folder);
        Directory.CreateDirectory(parts);
        ManifestJson.Write(Path.Combine(parts, part.ManifestName), file);
    }

    /// <summary>Adopts the workers' shards from <paramref name="liveRecords"/> into <paramref name="output"/> when every part is there and sound.</summary>
    /// <returns>False when there is nothing to combine, or it cannot be trusted (then the run says why and builds every shard).</returns>
    public static bool TryCombine(string liveRecords, string output, StageRun run, IReadOnlyList<string> splits,
        Func<string, IReadOnlyList<string>> shardNames, out Combined combined)
    {
        combined = null!;
        var folder = Path.Combine(liveRecords, RecordsShare.Folder);
        var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "part-*-of-*.json").Order(StringComparer.Ordinal).ToList() : [];
        if (files.Count == 0)
        {
            return false;
        }
        bool Refuse(string why)
        {
            run.Log($"  not combining {RecordsStage.Output}/{RecordsShare.Folder}/: {why}; building every shard here");
            return false;
        }

        var parts = new List<Part>();
        foreach (var file in files)
        {
            try
            {
                parts.Add(Read(file));
            }
            catch (PipelineException e)
            {
                return Refuse($"{Path.GetFileName(file)} cannot be read ({e.Problem})");
            }
        }
        var count = parts[0].File.Count;
        if (count < 1)
        {
            return Refuse($"{Path.GetFileName(parts[0].Path)} counts {count} workers");
        }
        var indices = parts.Select(p => p.File.Index).Order().ToList();
        if (parts.Any(p => p.File.Count != count) || !indices.SequenceEqual(Enumerable.Range(0, count)))
        {
            return Refuse($"it holds workers {string.Join(", ", indices)} of {string.Join(" or ", parts.Select(p => p.File.Count).Distinct())}, not all of one run");
        }
        if (parts.FirstOrDefault(p => p.File.Key != run.ResumeKey) is { } stale)
        {
            return Refuse($"{Path.GetFileName(stale.Path)} was made from other inputs or parameters than this build's");
        }
        var listed = parts.SelectMany(p => p.File.Shards).ToList();
        if (listed.FirstOrDefault(s => !splits.Contains(s.Split) || !shardNames(s.Split).Contains(s.Name)) is { } misplaced)
        {
            return Refuse($"{misplaced.Name} is listed under split \"{misplaced.Split}\", which has no such shard");
        }
        var expected = splits.SelectMany(shardNames).Order(StringComparer.Ordinal).ToList();
        var got = listed.Select(s => s.Name).Order(StringComparer.Ordinal).ToList();
        if (!expected.SequenceEqual(got))
        {
            return Refuse($"the parts hold {got.Count} shards, not the {expected.Count} this dataset has");
        }
        // Every shard is checked before any is adopted, so a refusal leaves the output folder as it was.
        foreach (var shard in listed)
        {
            var source = Path.Combine(liveRecords, shard.Name);
            if (!File.Exists(source) || ContentHash.OfFile(source) != shard.Hash)
            {
                return Refuse($"{shard.Name} is {(File.Exists(source) ? "not the file its worker wrote" : "missing")}");
            }
        }
        Directory.CreateDirectory(output);
        foreach (var shard in listed)
        {
            var source = Path.Combine(liveRecords, shard.Name);
            var target = Path.Combine(output, shard.Name);
            HardLink.CreateOrCopy(source, target);
        }

        var manifest = new Dictionary<string, RecordsManifest.SplitRecords>(StringComparer.Ordinal);
        var shards = listed;
        foreach (var split in splits)
        {
            var ofSplit = shards.Where(s => s.Split == split).ToList();
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var (label, n) in ofSplit.SelectMany(s => s.Labels))
            {
                counts[label] = counts.GetValueOrDefault(label) + n;
            }
            manifest[split] = new RecordsManifest.SplitRecords(ofSplit.Sum(s => s.Examples), shardNames(split), counts);
        }
        run.Log($"  combined {count} workers' shares: {shards.Count} shards, {shards.Sum(s => s.Examples)} examples, checked against their hashes");
        combined = new Combined(manifest, [.. parts.SelectMany(p => p.File.Rejects).Select(r => (r.Origin, r.Error))]);
        return true;
    }

    private static Part Read(string path)
    {
        var file = ManifestJson.Read<PartFile>(path, "a worker's part", "build Records here");
        if (file.Shards.Any(s => s.Name != System.IO.Path.GetFileName(s.Name) || s.Name is "" or "." or ".."))
        {
            throw new PipelineException("a shard name is not a file name", path);
        }
        return new Part(path, file);
    }
}
