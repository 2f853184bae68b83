using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Pipeline.Training.Input;

namespace Pipeline.Training.Transfer;

/// <summary>The body of the Bottlenecks stage, apart from <see cref="BottlenecksStage"/> so only running it loads ONNX Runtime.</summary>
internal static class BottlenecksRunner
{
    /// <summary>Images per ONNX Runtime call: measured on 2 cores, 16 runs ~40% faster than 1, and gives the same values bit for bit.</summary>
    private const int Batch = 16;

    public static void Run(StageContext context, StageRun run, BottlenecksStage stage)
    {
        var transfer = context.Dataset.Transfer!;
        var records = RecordsManifest.Read(stage.RecordsFolder);
        var threads = transfer.Threads > 0 ? transfer.Threads : Environment.ProcessorCount;
        var cache = new BottleneckCache(stage.CachePath, stage.BackboneKey, run.Log);
        OnnxBackbone? backbone = null;
        var folder = run.PathOf(BottlenecksStage.Output);
        Directory.CreateDirectory(folder);
        var manifest = new Dictionary<string, int>(StringComparer.Ordinal);
        var (computed, reused) = (0, 0);
        int? dimension = null;
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var split in records.Splits)
            {
                var examples = Read(records, split, run.Cancellation);
                InputImageDecoder? decoder = null;
                var progress = Stopwatch.StartNew();
                var splitClock = Stopwatch.StartNew();
                var values = cache.GetOrCompute([.. examples.Select(e => e.Hash)], indices =>
                {
                    run.Cancellation.ThrowIfCancellationRequested();
                    backbone ??= Open(context, run, threads);
                    decoder ??= new InputImageDecoder(backbone.Input);
                    var perImage = backbone.Input.ValuesPerImage;
                    var input = new float[indices.Count * perImage];
                    for (var k = 0; k < indices.Count; k++)
                    {
                        var example = examples[indices[k]];
                        try
                        {
                            decoder.Decode(example.Encoded.Span, input.AsSpan(k * perImage, perImage), example.Name);
                        }
                        catch (BadImageException e)
                        {
                            throw new PipelineException($"{example.Name}: {e.Problem}; rebuild the records with --target=Records --force", example.Shard, e);
                        }
                    }
                    var output = backbone.Bottlenecks(input, indices.Count);
                    return [.. Enumerable.Range(0, indices.Count).Select(k => output.AsSpan(k * backbone.Dimension, backbone.Dimension).ToArray())];
                }, Batch, (done, total) =>
                {
                    if (progress.Elapsed.TotalSeconds >= 15 || done == total)
                    {
                        run.Log($"  {split}: {done:N0}/{total:N0} bottlenecks computed ({done / Math.Max(splitClock.Elapsed.TotalSeconds, 1e-9):0.0} images/s)");
                        progress.Restart();
                    }
                });
                dimension ??= values.Count > 0 ? values[0].Length : null;
                BottleneckSet.Write(Path.Combine(folder, BottleneckSet.FileName(split)), dimension ?? 0,
                    [.. examples.Select(e => e.Label)], values);
                manifest[split] = examples.Count;
                computed += cache.Last.Computed;
                reused += cache.Last.Reused;
            }
        }
        finally
        {
            backbone?.Dispose();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        run.Log($"  {computed:N0} {(computed == 1 ? "bottleneck" : "bottlenecks")} computed, {reused:N0} reused from {DisplayPath.FromCurrentDirectory(stage.CachePath)}"
            + (computed > 0 ? $"; {computed / seconds:0.0} images/s on {threads} thread(s)" : ""));
        new BottlenecksManifest(transfer.From, Backbones.InputOf(context.Dataset, context.ArtifactsDirectory), dimension ?? 0, manifest)
            .Write(Path.Combine(folder, BottlenecksStage.ManifestName));
    }

    /// <summary>One record's image, as the backbone is fed it.</summary>
    private sealed record ExampleImage(string Hash, ReadOnlyMemory<byte> Encoded, int Label, string Shard, string Name);

    /// <summary>Every record of the split, shards in name order, records in file order.</summary>
    private static List<ExampleImage> Read(RecordsManifest records, string split, CancellationToken cancellation)
    {
        var examples = new List<ExampleImage>(records.Examples(split));
        foreach (var shard in records.ShardPaths(split).Order(StringComparer.Ordinal))
        {
            using var reader = TfRecordReader.Open(shard);
            while (reader.TryRead(out var record))
            {
                cancellation.ThrowIfCancellationRequested();
                var (encoded, label) = ExampleDecoder.Parse(new RawRecord(record.Data.ToArray(), 0, record.Offset), shard);
                examples.Add(new ExampleImage(ContentHash.OfBytes(encoded.Span), encoded, (int)(label - 1), shard,
                    $"record at byte {record.Offset}"));
            }
        }
        return examples;
    }

    /// <summary>The content hash of every image in the records (what the cache is keyed by).</summary>
    internal static List<string> ImageHashes(RecordsManifest records, CancellationToken cancellation) =>
        [.. records.Splits.SelectMany(split => Read(records, split, cancellation)).Select(e => e.Hash)];

    private static OnnxBackbone Open(StageContext context, StageRun run, int threads)
    {
        var clock = Stopwatch.StartNew();
        var backbone = Backbones.Open(context.Dataset, context.ArtifactsDirectory, threads);
        run.Log($"  backbone: {Backbones.Describe(context.Dataset, context.ArtifactsDirectory)}, {backbone.Dimension} values per image, read in {clock.Elapsed.TotalSeconds:0.0} s");
        return backbone;
    }
}
