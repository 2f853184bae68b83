using System.Diagnostics;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Cli.Benchmarks;

/// <summary>Throughput figures of the Records stage, measured on fresh artifacts folders so nothing is skipped.</summary>
internal static class RecordsBenchmark
{
    /// <summary>Builds the dataset's records <paramref name="runs"/> times and prints images/s for each and the best.</summary>
    public static void Dataset(string root, string dataset, int runs)
    {
        using var scratch = new Scratch();
        var pipeline = Chain.Open(root, dataset, _ => { }, artifactsRoot: scratch.Path);
        pipeline.Run("labels", force: false);
        var images = 0;
        var seconds = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var clock = Stopwatch.StartNew();
            pipeline.Run("records", force: true);
            seconds.Add(clock.Elapsed.TotalSeconds);
            images = ManifestExamples(pipeline);
            Console.WriteLine($"  run {run + 1}: {images} images in {seconds[^1]:F2} s = {images / seconds[^1]:N0} images/s");
        }
        Console.WriteLine($"records {pipeline.Dataset.Name}: {images} images, best {seconds.Min():F2} s, median {Median(seconds):F2} s: {images / seconds.Min():N0} images/s (best), {images / Median(seconds):N0} images/s (median) on {Environment.ProcessorCount} cores");
    }

    /// <summary>
    /// Baseline JPEGs pass through the Records stage untouched, so its limit is reading and writing the bytes:
    /// compares it with cat of the same files into one file (both with the files in the page cache).
    /// </summary>
    public static void JpegFolder(int count, int runs)
    {
        using var scratch = new Scratch();
        var photos = Path.Combine(scratch.Path, "photos");
        var bytes = WritePhotos(photos, count);
        var datasets = Path.Combine(scratch.Path, "datasets", "jpegs");
        Directory.CreateDirectory(datasets);
        File.WriteAllText(Path.Combine(datasets, "dataset.json"),
            """{ "name": "jpegs", "source": { "kind": "folders", "root": "../../photos", "validation_percent": 10 }, "records": { "shards": { "train": 4 } } }""");
        // With PIPELINE_TIMINGS=1 the engine reports where each run's time went; those lines are worth seeing here.
        var pipeline = Chain.Open(scratch.Path, "jpegs", line =>
        {
            if (line.Contains(" timings: ", StringComparison.Ordinal))
            {
                Console.WriteLine(line);
            }
        });
        pipeline.Run("labels", force: false);

        var files = Directory.GetFiles(photos, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var recordsSeconds = new List<double>();
        var catSeconds = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var clock = Stopwatch.StartNew();
            pipeline.Run("records", force: true);
            recordsSeconds.Add(clock.Elapsed.TotalSeconds);
            catSeconds.Add(Cat(files, Path.Combine(scratch.Path, "cat.out")));
        }

        var megabytes = bytes / 1e6;
        var records = megabytes / recordsSeconds.Min();
        var cat = megabytes / catSeconds.Min();
        Console.WriteLine($"records of {count} baseline JPEGs ({megabytes:F1} MB): best {recordsSeconds.Min():F3} s = {records:F0} MB/s, {count / recordsSeconds.Min():N0} images/s; first run (cold process, as in a build) {recordsSeconds[0]:F3} s");
        Console.WriteLine($"cat of the same files into one file: best {catSeconds.Min():F3} s = {cat:F0} MB/s");
        Console.WriteLine($"ratio records/cat: {records / cat:F2} (goal: at least 0.50); of the medians ({Median(recordsSeconds):F3} s against {Median(catSeconds):F3} s): {Median(catSeconds) / Median(recordsSeconds):F2}");
    }

    private static long WritePhotos(string folder, int count)
    {
        var random = new Random(7);
        var encoder = new JpegEncoder { Quality = 90 };
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            var label = $"class{i % 5}";
            Directory.CreateDirectory(Path.Combine(folder, label));
            // Photo-sized (320×240) with texture, so files weigh what flower_photos' do (tens of kilobytes).
            using var image = new Image<Rgb24>(320, 240);
            image.ProcessPixelRows(rows =>
            {
                for (var y = 0; y < rows.Height; y++)
                {
                    var row = rows.GetRowSpan(y);
                    for (var x = 0; x < row.Length; x++)
                    {
                        row[x] = new Rgb24((byte)(x + i), (byte)(y * 2), (byte)random.Next(256));
                    }
                }
            });
            var path = Path.Combine(folder, label, $"{i:D5}.jpg");
            image.SaveAsJpeg(path, encoder);
            // Photos are old by the time anyone builds records of them; freshly written files would be re-hashed
            // on every check (the hash cache does not trust files changed in the last two seconds).
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-1));
            total += new FileInfo(path).Length;
        }
        return total;
    }

    private static double Cat(string[] files, string output)
    {
        var list = Path.ChangeExtension(output, ".list");
        File.WriteAllLines(list, files);
        var start = new ProcessStartInfo("bash", ["-c", $"xargs -d '\\n' cat < '{list}' > '{output}'"]);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return clock.Elapsed.TotalSeconds;
    }

    private static int ManifestExamples(DatasetPipeline pipeline)
    {
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, "records", "manifest.json")))!;
        return manifest["splits"]!.AsObject().Sum(split => split.Value!["examples"]!.GetValue<int>());
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private sealed class Scratch : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("pipeline-benchmark-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
