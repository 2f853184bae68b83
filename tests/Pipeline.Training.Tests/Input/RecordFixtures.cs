using Google.Protobuf;
using Pipeline.Core.Build;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Pipeline.Core.Records.Proto;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Input;

namespace Pipeline.Training.Tests.Input;

/// <summary>Shards for the input pipeline tests: the Records stage's over a small IDX dataset, or records written by hand.</summary>
internal static class RecordFixtures
{
    /// <summary>Normalization that maps level 0 to −1 and level 255 to 1.</summary>
    public static InputSpec Gray(int size) => new(1, size, [0.5f], [0.5f]);

    /// <summary>
    /// Runs Labels and Records over <see cref="TestDatasets.IdxDataset"/>: train image i is 4×4, filled with
    /// (byte)(10·i) and labelled i mod 3 (circle, square, triangle, which are labels.txt's lines 1 to 3).
    /// </summary>
    public static string[] IdxTrainShards(TempDirectory dir, int train, int shards)
    {
        var name = TestDatasets.IdxDataset(dir, train: train, test: 3, records: $$"""{ "shards": { "train": {{shards}} } }""");
        var pipeline = DatasetPipeline.Open(dir.Path, name, _ => { });
        pipeline.Run("labels", force: false);
        pipeline.Run("records", force: false);
        return Directory.GetFiles(Path.Combine(pipeline.ArtifactsDirectory, RecordsStage.Output), "train-*.tfrecord");
    }

    /// <summary>The level IDX fixture image <paramref name="index"/> is filled with.</summary>
    public static byte IdxLevel(int index) => (byte)(10 * index);

    /// <summary>The 8-bit level a normalized value of <see cref="Gray"/> came from.</summary>
    public static int Level(float normalized) => (int)MathF.Round((normalized * 0.5f + 0.5f) * 255f);

    /// <summary>An 8-bit grayscale PNG, as the Records stage writes IDX images.</summary>
    public static byte[] GrayPng(byte[] pixels, int width, int height) => GrayPngWriter.Encode(pixels, width, height);

    /// <summary>An Example with just the two keys the pipeline reads.</summary>
    public static Example Example(byte[] encoded, long label)
    {
        var features = new Features();
        features.Feature.Add("image/class/label", new Feature { Int64List = new Int64List { Value = { label } } });
        features.Feature.Add("image/encoded", new Feature { BytesList = new BytesList { Value = { ByteString.CopyFrom(encoded) } } });
        return new Example { Features = features };
    }

    public static string WriteShard(string path, params IEnumerable<Example> examples) =>
        WriteRecords(path, examples.Select(e => e.ToByteArray()));

    public static string WriteRecords(string path, IEnumerable<byte[]> records)
    {
        using var writer = TfRecordWriter.Create(path);
        foreach (var record in records)
        {
            writer.Write(record);
        }
        return path;
    }

    /// <summary>Copies of the first <paramref name="count"/> batches (each disposed once copied).</summary>
    public static List<BatchCopy> Take(IEnumerable<Batch> batches, int count)
    {
        var copies = new List<BatchCopy>();
        foreach (var batch in batches)
        {
            using (batch)
            {
                copies.Add(new BatchCopy(batch.ImageMemory.ToArray(), [.. batch.Labels]));
            }
            if (copies.Count == count)
            {
                break;
            }
        }
        return copies;
    }

    public static List<BatchCopy> All(IEnumerable<Batch> batches) => Take(batches, int.MaxValue);

    public static void AssertSame(IReadOnlyList<BatchCopy> expected, IReadOnlyList<BatchCopy> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Labels, actual[i].Labels);
            Assert.Equal(expected[i].Images, actual[i].Images);
        }
    }
}

/// <summary>What a batch held, kept after it was disposed.</summary>
internal sealed record BatchCopy(float[] Images, long[] Labels)
{
    public int Count => Labels.Length;

    /// <summary>The IDX fixture level of each example (its images are uniform), decoded with <see cref="RecordFixtures.Gray"/>.</summary>
    public IEnumerable<int> Levels(int valuesPerImage) =>
        Enumerable.Range(0, Count).Select(i => RecordFixtures.Level(Images[i * valuesPerImage]));
}
