using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Labels;

namespace Pipeline.Core.Records;

/// <summary>Writes every split as TFRecord shards of tf.train.Example, in parallel and byte-for-byte deterministic.</summary>
public sealed class RecordsStage : IStage
{
    public const string Output = "records";
    public const string ManifestName = "manifest.json";
    public const string RejectsName = "rejects.json";

    /// <summary>What training reads: the manifest and every shard it lists (just the manifest while none is built), not rejects.json.</summary>
    public static readonly StageOutputs Outputs = new("records", Output, folder =>
    {
        if (!File.Exists(Path.Combine(folder, ManifestName)))
        {
            return [ManifestName];
        }
        var records = RecordsManifest.Read(folder);
        return [ManifestName, .. records.Splits.SelectMany(records.ShardPaths).Select(shard => Path.GetFileName(shard))];
    });

    /// <summary>
    /// Buffers for the images read and the records framed, which the chunks in flight hold by the dozen (by the
    /// hundred on many cores): the shared pool keeps only a few per size and allocated the rest anew, and those
    /// allocations' garbage collections took a fifth of the stage's time on a folder of JPEGs.
    /// </summary>
    private static readonly ArrayPool<byte> Buffers = ArrayPool<byte>.Create(maxArrayLength: 16 * 1024 * 1024, maxArraysPerBucket: 256);


    private readonly DatasetDefinition _dataset;
    private readonly IDatasetSource _source;
    private readonly string _artifacts;
    private readonly Func<string, string, string> _fetch;
    private readonly RecordsShare? _part;

    /// <param name="artifactsDirectory">artifacts/&lt;dataset&gt;, where the Labels stage wrote labels.txt.</param>
    /// <param name="fetch">Maps a remote image URL (and its origin, for errors) to a local file.</param>
    /// <param name="part">This worker's share when the stage is spread over machines; null for the whole stage.</param>
    public RecordsStage(DatasetDefinition dataset, IDatasetSource source, string artifactsDirectory, Func<string, string, string> fetch, RecordsShare? part = null)
    {
        _dataset = dataset;
        _source = source;
        _artifacts = artifactsDirectory;
        _fetch = fetch;
        _part = part;
    }

    public string Name => Outputs.Stage;

    public int ImplementationVersion => 2;

    public StageDeclaration Declare()
    {
        var inputs = new List<StageInput> { StageInput.OutputsOf(LabelsStage.Outputs, _artifacts) };
        foreach (var split in _source.Splits)
        {
            inputs.AddRange(_source.ExampleInputs(split));
        }
        var parameters = new JsonObject
        {
            ["records"] = JsonSerializer.SerializeToNode(_dataset.Records, DatasetLoader.Options),
            ["labels"] = new JsonObject { ["drop_unknown"] = _dataset.Labels.DropUnknown },
            ["source"] = SourceParameters.Of(_dataset.Source),
            // The bytes of converted images depend on the runtime's zlib and ImageSharp's codecs: a new
            // version may change them, so it re-runs the stage (downstream stays fresh if nothing changed).
            ["codecs"] = new JsonObject
            {
                ["runtime"] = Environment.Version.ToString(),
                ["imagesharp"] = typeof(SixLabors.ImageSharp.Image).Assembly.GetName().Version?.ToString(),
            },
        };
        if (_part is not null)
        {
            parameters["part"] = new JsonObject { ["index"] = _part.Index, ["count"] = _part.Count };
        }
        return new StageDeclaration(inputs, parameters, [Output]) { Partitioning = ["part"] };
    }

    public void Run(StageRun run)
    {
        var labels = LabelSet.Read(Path.Combine(_artifacts, LabelsStage.Output));
        var folder = run.PathOf(Output);
        Directory.CreateDirectory(folder);
        var encoder = new ImageEncoder(_dataset.Records.JpegQuality, _dataset.Records.MaxImagePixels);
        var skipBad = _dataset.Records.OnBadImage == "skip";
        var rejects = new List<Reject>();
        var manifest = new Dictionary<string, RecordsManifest.SplitRecords>(StringComparer.Ordinal);
        if (_part is null && RecordsShares.TryCombine(Path.Combine(_artifacts, Output), folder, run, _source.Splits, ShardNames, out var combined))
        {
            // The shares' examples were encoded by the workers; only the label checks are the whole run's own.
            foreach (var split in _source.Splits)
            {
                Usable(_source.Examples(split), labels, rejects);
            }
            WriteManifest(folder, combined.Splits, [.. rejects, .. combined.Rejects.Select(r => new Reject(r.Origin, r.Error))], run);
            return;
        }

        var partShards = new List<RecordsShares.Shard>();
        var partRejects = new List<Reject>();
        var globalShard = 0;
        foreach (var split in _source.Splits)
        {
            var examples = Usable(_source.Examples(split), labels, rejects);
            Shuffle(examples, _dataset.Records.ShuffleSeed);
            var shardNames = ShardNames(split);
            var shardCount = shardNames.Count;
            if (_part is not null)
            {
                for (var shard = 0; shard < shardCount; shard++, globalShard++)
                {
                    if (!_part.Owns(globalShard))
                    {
                        continue;
                    }
                    // The k-th contiguous slice, exactly as the whole run cuts it, so the shard's bytes are the same.
                    var slice = examples.GetRange(examples.Count * shard / shardCount, examples.Count * (shard + 1) / shardCount - examples.Count * shard / shardCount);
                    var sliceCounts = new SortedDictionary<string, int>(StringComparer.Ordinal);
                    var sliceWritten = WriteSplit(run, [shardNames[shard]], slice, labels, encoder, skipBad, partRejects, sliceCounts);
                    partShards.Add(new RecordsShares.Shard(split, shardNames[shard], sliceWritten, sliceCounts));
                }
                continue;
            }
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var written = WriteSplit(run, shardNames, examples, labels, encoder, skipBad, rejects, counts);
            manifest[split] = new RecordsManifest.SplitRecords(written, shardNames, counts);
            run.Log($"  {split}: {written} examples in {shardCount} shard{(shardCount == 1 ? "" : "s")}");
        }
        if (_part is not null)
        {
            // Only the images' rejects: every worker finds the same label rejects, and the combining run finds them again.
            RecordsShares.WritePart(folder, _part, run, partShards, [.. partRejects.Select(r => (Portable(r.Origin), Portable(r.Error)))]);
            run.Log($"  worker {_part.Index} of {_part.Count}: {partShards.Count} shard{(partShards.Count == 1 ? "" : "s")}, "
                + $"{partShards.Sum(p => p.Examples)} examples; combine the workers' records/ folders and build Records to finish");
            return;
        }
        WriteManifest(folder, manifest, rejects, run);
    }

    private IReadOnlyList<string> ShardNames(string split)
    {
        var shardCount = _dataset.Records.ShardsFor(split);
        return [.. Enumerable.Range(0, shardCount).Select(shard => ShardName.For(split, shard, shardCount))];
    }

    private void WriteManifest(string folder, IReadOnlyDictionary<string, RecordsManifest.SplitRecords> manifest, IReadOnlyList<Reject> rejects, StageRun run)
    {
        RecordsManifest.Write(folder, manifest, rejects.Count);
        if (rejects.Count > 0)
        {
            var list = new JsonArray([.. rejects.Select(r => (Origin: Portable(r.Origin), Error: Portable(r.Error)))
                .OrderBy(r => r.Origin, StringComparer.Ordinal)
                .Select(r => (JsonNode)new JsonObject { ["origin"] = r.Origin, ["error"] = r.Error })]);
            File.WriteAllText(Path.Combine(folder, RejectsName), CanonicalJson.Serialize(list, indented: true));
            var dropped = rejects.Count(r => r.UnknownLabel);
            var bad = rejects.Count - dropped;
            var what = new List<string>();
            if (dropped > 0)
            {
                what.Add($"{dropped} row{(dropped == 1 ? "" : "s")} with labels outside labels.txt dropped (labels.drop_unknown)");
            }
            if (bad > 0)
            {
                what.Add($"{bad} bad image{(bad == 1 ? "" : "s")} skipped (on_bad_image: skip)");
            }
            run.Log($"  {string.Join(" and ", what)}: see {Output}/{RejectsName}");
        }
    }

    private List<SourceExample> Usable(IReadOnlyList<SourceExample> examples, LabelSet labels, List<Reject> rejects)
    {
        var usable = new List<SourceExample>(examples.Count);
        foreach (var example in examples)
        {
            if (labels.Contains(example.Label))
            {
                usable.Add(example);
                continue;
            }
            var message = $"label \"{example.Label}\" is not in labels.txt";
            if (labels.Closest(example.Label) is { } hint)
            {
                message += $" (did you mean \"{hint}\"?)";
            }
            if (!_dataset.Labels.DropUnknown)
            {
                throw new PipelineException(message + "; fix the row, or set labels.drop_unknown to drop such rows", example.Origin);
            }
            rejects.Add(new Reject(example.Origin, message, UnknownLabel: true));
        }
        return usable;
    }

    /// <summary>
    /// The report is an output, so it must not depend on where the checkout is or where the build runs from:
    /// paths inside the dataset's folder are written relative to it.
    /// </summary>
    private string Portable(string text) => _dataset.Portable(text);

    /// <summary>A fixed-seed shuffle, as the reference converter does, so shards mix classes even when the source is sorted.</summary>
    private static void Shuffle(List<SourceExample> examples, int seed)
    {
        var random = new Random(seed);
        for (var i = examples.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (examples[i], examples[j]) = (examples[j], examples[i]);
        }
    }

    /// <summary>
    /// Writes a split's examples into its shards, shard k holding the k-th contiguous slice, as the reference
    /// converter does. Every core encodes (no core idles at shard boundaries) and writes; each shard still gets
    /// its examples in input order, so the bytes never depend on timing.
    /// </summary>
    private int WriteSplit(StageRun run, IReadOnlyList<string> shardNames, List<SourceExample> examples, LabelSet labels,
        ImageEncoder encoder, bool skipBad, List<Reject> rejects, SortedDictionary<string, int> counts)
    {
        var shardCount = shardNames.Count;
        var ends = Enumerable.Range(0, shardCount).Select(shard => (int)((long)examples.Count * (shard + 1) / shardCount)).ToArray();
        var shards = Enumerable.Range(0, shardCount)
            .Select(shard => new ShardState(run, Path.Combine(Output, shardNames[shard]), ends[shard] - 1))
            .ToArray();
        var finished = false;
        try
        {
            // Every shard is created, empty ones included, so a split always has all its files; the others are opened
            // by their first example and closed after their last, so only the shards being written hold a file.
            foreach (var shard in shards.Where((_, index) => ends[index] == (index == 0 ? 0 : ends[index - 1])))
            {
                shard.CreateEmpty();
            }
            ParallelShards.Run(examples.Count, ends,
                item => Encode(examples[item], labels, encoder, skipBad),
                (shard, item, encoded) => shards[shard].Add(item, encoded),
                run.Cancellation);
            finished = true;
        }
        finally
        {
            // After a failure the first error is the one to report; closing the other files must not replace it.
            foreach (var shard in shards)
            {
                shard.Abandon(rethrow: finished);
            }
        }
        foreach (var shard in shards)
        {
            rejects.AddRange(shard.Rejects);
            foreach (var (label, count) in shard.Counts)
            {
                counts[label] = counts.GetValueOrDefault(label) + count;
            }
        }
        return shards.Sum(shard => shard.Written);
    }

    /// <summary>One shard's file and what went into it; used by one thread at a time.</summary>
    /// <param name="last">The index of its last example, after which its file is closed (an empty shard has none).</param>
    private sealed class ShardState(StageRun run, string relativePath, int last)
    {
        private TfRecordWriter? _writer;

        public int Written { get; private set; }

        public Dictionary<string, int> Counts { get; } = new(StringComparer.Ordinal);

        public List<Reject> Rejects { get; } = [];

        public void CreateEmpty() => Create().Dispose();

        public void Add(int item, Encoded encoded)
        {
            var writer = _writer ??= Create();
            if (encoded.Reject is not null)
            {
                Rejects.Add(encoded.Reject);
            }
            else
            {
                writer.WriteFramed(encoded.Record);
                Buffers.Return(encoded.Record.Array!);
                Counts[encoded.Example.Label] = Counts.GetValueOrDefault(encoded.Example.Label) + 1;
                Written++;
            }
            if (item == last)
            {
                // Flushing may fail (a full disk): that is this write's failure, reported as such.
                _writer = null;
                writer.Dispose();
            }
        }

        private TfRecordWriter Create() => new(run.CreateOutput(relativePath));

        /// <summary>Closes the file if a failure left it open.</summary>
        public void Abandon(bool rethrow)
        {
            var writer = _writer;
            _writer = null;
            try
            {
                writer?.Dispose();
            }
            catch (Exception) when (!rethrow)
            {
            }
        }
    }

    /// <summary>One example's result: its framed record, or why it was left out.</summary>
    private readonly record struct Encoded(SourceExample Example, ArraySegment<byte> Record, Reject? Reject);

    /// <exception cref="PipelineException">The image is bad (and bad images stop the build), or cannot be fetched.</exception>
    private Encoded Encode(SourceExample example, LabelSet labels, ImageEncoder encoder, bool skipBad)
    {
        byte[]? read = null;
        try
        {
            EncodedImage image;
            if (example.Image is FileImageRef file)
            {
                var length = SourceImageFile.Read(file, example.Origin, _fetch, Buffers, out read);
                image = encoder.EncodeFile(read.AsMemory(0, length), file.Location, example.Origin);
            }
            else if (example.Image is PixelImageRef pixels)
            {
                image = encoder.EncodeGray(pixels.Pixels.Span, pixels.Width, pixels.Height);
            }
            else
            {
                throw new NotSupportedException(example.Image.GetType().Name);
            }
            var record = ExampleBuilder.Build(image, labels.ClassId(example.Label), example.Label, example.Image.FileName);
            return new Encoded(example, TfRecordWriter.Frame(record, Buffers), null);
        }
        catch (BadImageException e) when (skipBad)
        {
            return new Encoded(example, default, new Reject(example.Origin, e.Problem));
        }
        finally
        {
            if (read is not null)
            {
                Buffers.Return(read);
            }
        }
    }

    /// <summary>Reads an image file into a rented buffer (returned by the caller) and gives its length.</summary>
    /// <param name="UnknownLabel">Dropped for its label (labels.drop_unknown), not for its image (on_bad_image: skip).</param>
    private sealed record Reject(string Origin, string Error, bool UnknownLabel = false);
}
