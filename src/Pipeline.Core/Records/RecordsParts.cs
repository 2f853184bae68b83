using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Records;

/// <summary>
/// The Records stage spread over machines. Each worker writes its shards and records/parts/part-I-of-N.json (what it
/// wrote, with hashes, under the run's key); once the workers' records/ folders are copied together, the whole stage
/// finds every part, checks the keys and the shards' hashes, and adopts the shards instead of encoding them again.
/// The shards' bytes are the ones a single machine writes, since a shard is a fixed slice of a fixed shuffle.
/// </summary>
internal static class RecordsParts
{
    public sealed record Shard(string Split, string Name, int Examples, IReadOnlyDictionary<string, int> Labels);

    public sealed record Combined(JsonObject Manifest, IReadOnlyList<(string Origin, string Error)> Rejects);

    private sealed record Part(string Path, string Key, int Index, int Count, IReadOnlyList<(Shard Shard, string Hash)> Shards,
        IReadOnlyList<(string Origin, string Error)> Rejects);

    public static JsonObject SplitManifest(int examples, IReadOnlyList<string> shardNames, IReadOnlyDictionary<string, int> counts) => new()
    {
        ["examples"] = examples,
        ["shards"] = new JsonArray([.. shardNames.Select(n => JsonValue.Create(n))]),
        ["labels"] = new JsonObject(counts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
    };

    public static void WritePart(string folder, RecordsPart part, StageRun run, IReadOnlyList<Shard> shards, IReadOnlyList<(string Origin, string Error)> rejects)
    {
        var json = new JsonObject
        {
            ["key"] = run.ResumeKey,
            ["index"] = part.Index,
            ["count"] = part.Count,
            ["shards"] = new JsonArray([.. shards.Select(s => (JsonNode)new JsonObject
            {
                ["split"] = s.Split,
                ["name"] = s.Name,
                ["examples"] = s.Examples,
                ["labels"] = new JsonObject(s.Labels.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
                ["hash"] = ContentHash.OfFile(Path.Combine(folder, s.Name)),
            })]),
            ["rejects"] = new JsonArray([.. rejects.Select(r => (JsonNode)new JsonObject { ["origin"] = r.Origin, ["error"] = r.Error })]),
        };
        var parts = Path.Combine(folder, RecordsPart.Folder);
        Directory.CreateDirectory(parts);
        File.WriteAllText(Path.Combine(parts, part.ManifestName), CanonicalJson.Serialize(json, indented: true));
    }

    /// <summary>Adopts the workers' shards from <paramref name="liveRecords"/> into <paramref name="output"/> when every part is there and sound.</summary>
    /// <returns>False when there is nothing to combine, or it cannot be trusted (then the run says why and builds every shard).</returns>
    public static bool TryCombine(string liveRecords, string output, StageRun run, IReadOnlyList<string> splits,
        Func<string, IReadOnlyList<string>> shardNames, out Combined combined)
    {
        combined = null!;
        var folder = Path.Combine(liveRecords, RecordsPart.Folder);
        var files = Directory.Exists(folder) ? Directory.GetFiles(folder, "part-*-of-*.json").Order(StringComparer.Ordinal).ToList() : [];
        if (files.Count == 0)
        {
            return false;
        }
        bool Refuse(string why)
        {
            run.Log($"  not combining {RecordsStage.Output}/{RecordsPart.Folder}/: {why}; building every shard here");
            return false;
        }

        var parts = new List<Part>();
        foreach (var file in files)
        {
            try
            {
                parts.Add(Read(file));
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or FormatException
                or ArgumentException or IOException or UnauthorizedAccessException)
            {
                return Refuse($"{Path.GetFileName(file)} cannot be read ({e.Message})");
            }
        }
        var count = parts[0].Count;
        if (count < 1)
        {
            return Refuse($"{Path.GetFileName(parts[0].Path)} counts {count} workers");
        }
        var indices = parts.Select(p => p.Index).Order().ToList();
        if (parts.Any(p => p.Count != count) || !indices.SequenceEqual(Enumerable.Range(0, count)))
        {
            return Refuse($"it holds workers {string.Join(", ", indices)} of {string.Join(" or ", parts.Select(p => p.Count).Distinct())}, not all of one run");
        }
        if (parts.FirstOrDefault(p => p.Key != run.ResumeKey) is { } stale)
        {
            return Refuse($"{Path.GetFileName(stale.Path)} was made from other inputs or parameters than this build's");
        }
        if (parts.SelectMany(p => p.Shards).Select(s => s.Shard)
            .FirstOrDefault(s => !splits.Contains(s.Split) || !shardNames(s.Split).Contains(s.Name)) is { } misplaced)
        {
            return Refuse($"{misplaced.Name} is listed under split \"{misplaced.Split}\", which has no such shard");
        }
        var expected = splits.SelectMany(shardNames).Order(StringComparer.Ordinal).ToList();
        var got = parts.SelectMany(p => p.Shards).Select(s => s.Shard.Name).Order(StringComparer.Ordinal).ToList();
        if (!expected.SequenceEqual(got))
        {
            return Refuse($"the parts hold {got.Count} shards, not the {expected.Count} this dataset has");
        }
        // Every shard is checked before any is adopted, so a refusal leaves the output folder as it was.
        foreach (var (shard, hash) in parts.SelectMany(p => p.Shards))
        {
            var source = Path.Combine(liveRecords, shard.Name);
            if (!File.Exists(source) || ContentHash.OfFile(source) != hash)
            {
                return Refuse($"{shard.Name} is {(File.Exists(source) ? "not the file its worker wrote" : "missing")}");
            }
        }
        Directory.CreateDirectory(output);
        foreach (var (shard, _) in parts.SelectMany(p => p.Shards))
        {
            var source = Path.Combine(liveRecords, shard.Name);
            var target = Path.Combine(output, shard.Name);
            HardLink.CreateOrCopy(source, target);
        }

        var manifest = new JsonObject();
        var shards = parts.SelectMany(p => p.Shards).Select(s => s.Shard).ToList();
        foreach (var split in splits)
        {
            var ofSplit = shards.Where(s => s.Split == split).ToList();
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var (label, n) in ofSplit.SelectMany(s => s.Labels))
            {
                counts[label] = counts.GetValueOrDefault(label) + n;
            }
            manifest[split] = SplitManifest(ofSplit.Sum(s => s.Examples), shardNames(split), counts);
        }
        run.Log($"  combined {count} workers' shares: {shards.Count} shards, {shards.Sum(s => s.Examples)} examples, checked against their hashes");
        combined = new Combined(manifest, [.. parts.SelectMany(p => p.Rejects)]);
        return true;
    }

    private static Part Read(string path)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        var shards = json["shards"]!.AsArray().Select(s => (new Shard(
                s!["split"]!.GetValue<string>(),
                s["name"]!.GetValue<string>(),
                s["examples"]!.GetValue<int>(),
                s["labels"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<int>())),
            s["hash"]!.GetValue<string>())).ToList();
        if (shards.Any(s => s.Item1.Name.Contains('/') || s.Item1.Name.Contains('\\') || s.Item1.Name.Contains("..", StringComparison.Ordinal)))
        {
            throw new FormatException("a shard name is not a file name");
        }
        var rejects = json["rejects"]!.AsArray().Select(r => (r!["origin"]!.GetValue<string>(), r["error"]!.GetValue<string>())).ToList();
        return new Part(path, json["key"]!.GetValue<string>(), json["index"]!.GetValue<int>(), json["count"]!.GetValue<int>(), shards, rejects);
    }
}
