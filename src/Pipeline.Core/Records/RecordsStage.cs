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

    private readonly DatasetDefinition _dataset;
    private readonly IDatasetSource _source;
    private readonly string _labelsPath;
    private readonly Func<string, string, string> _fetch;

    /// <param name="labelsPath">The Labels stage's output.</param>
    /// <param name="fetch">Maps a remote image URL (and its origin, for errors) to a local file.</param>
    public RecordsStage(DatasetDefinition dataset, IDatasetSource source, string labelsPath, Func<string, string, string> fetch)
    {
        _dataset = dataset;
        _source = source;
        _labelsPath = labelsPath;
        _fetch = fetch;
    }

    public string Name => "records";

    public int ImplementationVersion => 1;

    public StageDeclaration Declare()
    {
        var inputs = new List<StageInput> { StageInput.File("labels.txt", _labelsPath) };
        foreach (var split in _source.Splits)
        {
            inputs.AddRange(_source.ExampleInputs(split));
        }
        return new StageDeclaration(
            inputs,
            new JsonObject
            {
                ["records"] = JsonSerializer.SerializeToNode(_dataset.Records, DatasetLoader.Options),
                ["labels"] = new JsonObject { ["drop_unknown"] = _dataset.Labels.DropUnknown },
                ["source"] = SourceParameters.Of(_dataset.Source),
            },
            [Output]);
    }

    public void Run(StageRun run)
    {
        var labels = LabelSet.Read(_labelsPath);
        var folder = run.PathOf(Output);
        Directory.CreateDirectory(folder);
        var encoder = new ImageEncoder(_dataset.Records.JpegQuality, _dataset.Records.MaxImagePixels);
        var skipBad = _dataset.Records.OnBadImage == "skip";
        var rejects = new List<Reject>();
        var manifest = new JsonObject();

        foreach (var split in _source.Splits)
        {
            var examples = Usable(_source.Examples(split), labels, rejects);
            Shuffle(examples, _dataset.Records.ShuffleSeed);
            var shardCount = _dataset.Records.ShardsFor(split);
            var shardNames = new JsonArray();
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var written = 0;
            for (var shard = 0; shard < shardCount; shard++)
            {
                run.Cancellation.ThrowIfCancellationRequested();
                var name = ShardName.For(split, shard, shardCount);
                var slice = examples[(int)((long)examples.Count * shard / shardCount)..(int)((long)examples.Count * (shard + 1) / shardCount)];
                written += WriteShard(Path.Combine(folder, name), slice, labels, encoder, skipBad, rejects, counts, run.Cancellation);
                shardNames.Add(name);
            }
            manifest[split] = new JsonObject
            {
                ["examples"] = written,
                ["shards"] = shardNames,
                ["labels"] = new JsonObject(counts.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            };
            run.Log($"  {split}: {written} examples in {shardCount} shard{(shardCount == 1 ? "" : "s")}");
        }

        var root = new JsonObject { ["splits"] = manifest, ["rejected"] = rejects.Count };
        File.WriteAllText(Path.Combine(folder, ManifestName), CanonicalJson.Serialize(root, indented: true));
        if (rejects.Count > 0)
        {
            var list = new JsonArray([.. rejects.OrderBy(r => r.Origin, StringComparer.Ordinal)
                .Select(r => (JsonNode)new JsonObject { ["origin"] = r.Origin, ["error"] = r.Error })]);
            File.WriteAllText(Path.Combine(folder, RejectsName), CanonicalJson.Serialize(list, indented: true));
            run.Log($"  {rejects.Count} bad image{(rejects.Count == 1 ? "" : "s")} skipped (on_bad_image: skip): see {Output}/{RejectsName}");
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
            rejects.Add(new Reject(example.Origin, message));
        }
        return usable;
    }

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

    private int WriteShard(string path, List<SourceExample> examples, LabelSet labels, ImageEncoder encoder, bool skipBad,
        List<Reject> rejects, SortedDictionary<string, int> counts, CancellationToken cancellation)
    {
        // Encoding runs on every core; AsOrdered hands results back in input order, so the bytes never depend on timing.
        var encoded = examples.AsParallel().AsOrdered().WithCancellation(cancellation)
            .Select(example => Encode(example, labels, encoder, skipBad));
        using var writer = TfRecordWriter.Create(path);
        var written = 0;
        try
        {
            foreach (var (example, record, reject) in encoded)
            {
                if (reject is not null)
                {
                    rejects.Add(reject);
                    continue;
                }
                writer.WriteFramed(record!);
                counts[example.Label] = counts.GetValueOrDefault(example.Label) + 1;
                written++;
            }
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<PipelineException>().FirstOrDefault() is { } first)
        {
            // PLINQ wraps what the workers threw; a person needs the bad image, not the wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
        return written;
    }

    private (SourceExample Example, byte[]? Record, Reject? Reject) Encode(SourceExample example, LabelSet labels, ImageEncoder encoder, bool skipBad)
    {
        try
        {
            var image = example.Image switch
            {
                PixelImageRef pixels => encoder.EncodeGray(pixels.Pixels.Span, pixels.Width, pixels.Height),
                FileImageRef file => encoder.EncodeFile(ReadImage(file, example.Origin), file.Location, example.Origin),
                _ => throw new NotSupportedException(example.Image.GetType().Name),
            };
            var record = ExampleBuilder.Build(image, labels.ClassId(example.Label), example.Label, example.Image.FileName);
            return (example, TfRecordWriter.Frame(record), null);
        }
        catch (BadImageException e) when (skipBad)
        {
            return (example, null, new Reject(example.Origin, e.Message));
        }
    }

    private byte[] ReadImage(FileImageRef file, string origin)
    {
        var path = file.IsRemote ? _fetch(file.Location, origin) : file.Location;
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BadImageException($"image {file.Location} not found", origin, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadImageException($"image {file.Location} cannot be read: {e.Message}", origin, e);
        }
    }

    private sealed record Reject(string Origin, string Error);
}
