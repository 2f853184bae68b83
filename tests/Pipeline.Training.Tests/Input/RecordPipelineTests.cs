using System.Diagnostics;
using Google.Protobuf;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Input;
using static Pipeline.Training.Tests.Input.RecordFixtures;

namespace Pipeline.Training.Tests.Input;

public sealed class RecordPipelineTests : IClassFixture<IdxShardsFixture>, IDisposable
{
    private const int Size = 4;
    private const int Values = Size * Size;

    private readonly IdxShardsFixture _idx;
    private readonly TempDirectory _dir = new();

    public RecordPipelineTests(IdxShardsFixture idx) => _idx = idx;

    public void Dispose() => _dir.Dispose();

    private static PipelineOptions Options(int batchSize = 4, int seed = 7, AugmentSpec? augment = null, int workers = 2, int shuffle = 8, int prefetch = 4) =>
        new(batchSize, shuffle, seed, augment, workers, prefetch);

    private RecordPipeline Idx(PipelineOptions? options = null) => new(_idx.Shards, Gray(Size), options ?? Options());

    [Fact]
    public void Example_count_and_steps_come_from_the_shards()
    {
        var pipeline = Idx(Options(batchSize: 4));

        Assert.Equal(IdxShardsFixture.Examples, pipeline.ExampleCount);
        Assert.Equal(IdxShardsFixture.Examples / 4, pipeline.StepsPerEpoch);
        Assert.Equal(_idx.Shards.Order(StringComparer.Ordinal), pipeline.Shards);
    }

    [Fact]
    public void Evaluation_yields_every_example_exactly_once_with_its_label()
    {
        var batches = All(Idx(Options(batchSize: 4)).Evaluation(CancellationToken.None));

        Assert.Equal([4, 4, 4, 4, 4, 4, 4, 3], batches.Select(b => b.Count));
        var examples = batches.SelectMany(b => b.Levels(Values).Zip(b.Labels)).ToList();
        var expected = Enumerable.Range(0, IdxShardsFixture.Examples).Select(i => ((int)IdxLevel(i), (long)(i % 3)));
        Assert.Equal(expected.Order(), examples.Order());
        var perLabel = examples.GroupBy(e => e.Second).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(_idx.ManifestCounts(), perLabel.OrderBy(p => p.Key).Select(p => p.Value));
    }

    [Fact]
    public void Evaluation_interleaves_the_shards_round_robin_without_shuffling()
    {
        var perShard = _idx.Shards.Order(StringComparer.Ordinal).Select(Shards.Read).ToList();
        var interleaved = new List<int>();
        for (var i = 0; interleaved.Count < IdxShardsFixture.Examples; i++)
        {
            interleaved.AddRange(perShard.Where(s => i < s.Count).Select(s => FirstPixel(s[i])));
        }

        var batches = All(Idx(Options(batchSize: 5, augment: new AugmentSpec(true, 2))).Evaluation(CancellationToken.None));

        Assert.Equal(interleaved, batches.SelectMany(b => b.Levels(Values)));
        // No augmentation either: every image is still uniform.
        Assert.All(batches, b => Assert.All(Enumerable.Range(0, b.Count), i => Assert.Single(b.Images.AsSpan(i * Values, Values).ToArray().Distinct())));
    }

    [Fact]
    public void Pixels_are_scaled_to_unit_range_then_normalized_per_channel()
    {
        var spec = new InputSpec(1, Size, [0.25f], [0.5f]);

        var batches = All(new RecordPipeline(_idx.Shards, spec, Options(batchSize: 8)).Evaluation(CancellationToken.None));

        var values = batches.SelectMany(b => Enumerable.Range(0, b.Count).Select(i => b.Images[i * Values])).ToList();
        var expected = Enumerable.Range(0, IdxShardsFixture.Examples).Select(i => (IdxLevel(i) / 255f - 0.25f) / 0.5f);
        Assert.Equal(expected.Order(), values.Order());
        Assert.Contains(-0.5f, values); // image 0: black
        Assert.Contains((100 / 255f - 0.25f) / 0.5f, values); // image 10
    }

    [Fact]
    public void Gray_images_fill_every_channel_of_an_rgb_input_and_are_resized_to_the_input_size()
    {
        var spec = new InputSpec(3, 6, [0.5f, 0.25f, 0f], [0.5f, 0.25f, 1f]);

        var batch = Assert.Single(All(new RecordPipeline(_idx.Shards, spec, Options(batchSize: 64)).Evaluation(CancellationToken.None)));

        Assert.Equal(IdxShardsFixture.Examples * 3 * 36, batch.Images.Length);
        for (var i = 0; i < batch.Count; i++)
        {
            var image = batch.Images.AsSpan(i * 108, 108);
            var level = image[2 * 36] * 255f; // channel 2 is level / 255 unchanged
            Assert.Contains((int)MathF.Round(level), Enumerable.Range(0, IdxShardsFixture.Examples).Select(k => (int)IdxLevel(k)));
            for (var c = 0; c < 3; c++)
            {
                var expected = (level / 255f - spec.Mean[c]) / spec.Std[c];
                Assert.All(image.Slice(c * 36, 36).ToArray(), v => Assert.Equal(expected, v, 4));
            }
        }
    }

    [Fact]
    public void Training_batches_are_full_with_labels_in_range_and_each_epoch_drops_only_the_remainder()
    {
        var pipeline = Idx(Options(batchSize: 4));
        var steps = pipeline.StepsPerEpoch;

        var batches = Take(pipeline.Training(0, CancellationToken.None), 3 * steps);

        Assert.All(batches, b => Assert.Equal(4, b.Count));
        Assert.All(batches, b => Assert.All(b.Labels, l => Assert.InRange(l, 0, 2)));
        Assert.All(batches, b => Assert.Equal(4 * Values, b.Images.Length));
        var epochs = batches.Chunk(steps).Select(e => e.SelectMany(b => b.Levels(Values)).ToList()).ToList();
        Assert.All(epochs, e => Assert.Equal(4 * steps, e.Distinct().Count()));
        Assert.NotEqual(epochs[0], epochs[1]); // each epoch has its own shuffle
    }

    [Fact]
    public void Same_options_give_the_same_batches_in_two_pipelines_with_any_number_of_workers()
    {
        var augment = new AugmentSpec(true, 1);
        var first = Take(Idx(Options(augment: augment, workers: 1, prefetch: 1)).Training(0, CancellationToken.None), 20);
        var second = Take(Idx(Options(augment: augment, workers: 3, prefetch: 4)).Training(0, CancellationToken.None), 20);
        var third = Take(Idx(Options(augment: augment, workers: 8, prefetch: 2)).Training(0, CancellationToken.None), 20);

        AssertSame(first, second);
        AssertSame(first, third);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)] // the last step of epoch 0
    [InlineData(7)] // the first step of epoch 1
    [InlineData(16)]
    public void Starting_at_a_step_gives_exactly_the_batches_an_uninterrupted_run_gives_from_there(long start)
    {
        var augment = new AugmentSpec(true, 2);
        var uninterrupted = Take(Idx(Options(augment: augment)).Training(0, CancellationToken.None), 24);

        var resumed = Take(Idx(Options(augment: augment, workers: 3)).Training(start, CancellationToken.None), 24 - (int)start);

        AssertSame(uninterrupted.Skip((int)start).ToList(), resumed);
    }

    /// <summary>
    /// Data-parallel training's input: N ranks' shares of each batch, put side by side in rank order, are the batch one
    /// process takes, augmentation included, from the start and from a resumed step; and evaluation's shares are the
    /// whole split once, a rank's share of the short last batch possibly empty.
    /// </summary>
    [Theory]
    [InlineData(2, 0)]
    [InlineData(4, 0)]
    [InlineData(3, 7)]
    public void The_ranks_shares_of_every_batch_side_by_side_are_the_batch_one_process_takes(int ranks, long start)
    {
        var augment = new AugmentSpec(true, 2);
        var whole = Take(Idx(Options(batchSize: 12, augment: augment)).Training(start, CancellationToken.None), 10);
        var shares = Enumerable.Range(0, ranks)
            .Select(rank => Take(Idx(Options(batchSize: 12, augment: augment, workers: 1 + rank)).Training(start, CancellationToken.None, new RankShare(rank, ranks)), 10))
            .ToList();

        Assert.All(shares, share => Assert.All(share, batch => Assert.Equal(12 / ranks, batch.Labels.Length)));
        var joined = Enumerable.Range(0, 10)
            .Select(step => new BatchCopy([.. shares.SelectMany(s => s[step].Images)], [.. shares.SelectMany(s => s[step].Labels)]))
            .ToList();
        AssertSame(whole, joined);

        var evaluation = All(Idx(Options(batchSize: 5)).Evaluation(CancellationToken.None));
        var evaluationShares = Enumerable.Range(0, ranks).Select(rank => All(Idx(Options(batchSize: 5)).Evaluation(CancellationToken.None, new RankShare(rank, ranks)))).ToList();
        var joinedEvaluation = Enumerable.Range(0, evaluation.Count)
            .Select(b => new BatchCopy([.. evaluationShares.SelectMany(s => s[b].Images)], [.. evaluationShares.SelectMany(s => s[b].Labels)]))
            .ToList();
        AssertSame(evaluation, joinedEvaluation);
    }

    [Fact]
    public void Different_seeds_give_different_orders()
    {
        var seven = Take(Idx(Options(seed: 7)).Training(0, CancellationToken.None), 7).SelectMany(b => b.Levels(Values));
        var eight = Take(Idx(Options(seed: 8)).Training(0, CancellationToken.None), 7).SelectMany(b => b.Levels(Values));

        Assert.NotEqual(seven, eight);
    }

    [Fact]
    public void Training_augments_each_example_as_its_seed_epoch_and_position_draw_it()
    {
        // One asymmetric 5×5 image and a batch of one: step k is epoch k, position 0.
        var pixels = Enumerable.Range(0, 25).Select(i => (byte)(10 * i + 5)).ToArray();
        var shard = WriteShard(_dir.Combine("train-00000-of-00001.tfrecord"), Example(GrayPng(pixels, 5, 5), 1));
        var augment = new AugmentSpec(true, 2);
        var pipeline = new RecordPipeline([shard], Gray(5), Options(batchSize: 1, seed: 3, augment: augment));

        var batches = Take(pipeline.Training(0, CancellationToken.None), 40);

        var draws = new List<Augmentation>();
        for (var step = 0; step < batches.Count; step++)
        {
            var draw = Augmentation.Draw(augment, 3, step, 0);
            draws.Add(draw);
            var expected = new float[25];
            for (var y = 0; y < 5; y++)
            {
                for (var x = 0; x < 5; x++)
                {
                    var (sy, sx) = (y - draw.Dy, x - draw.Dx);
                    var inside = sy is >= 0 and < 5 && sx is >= 0 and < 5;
                    var level = inside ? pixels[sy * 5 + (draw.Flip ? 4 - sx : sx)] : 0;
                    expected[y * 5 + x] = (level / 255f - 0.5f) / 0.5f;
                }
            }
            Assert.Equal(expected, batches[step].Images);
            Assert.Equal([0L], batches[step].Labels);
        }
        Assert.Contains(draws, d => d.Flip);
        Assert.Contains(draws, d => !d.Flip);
        Assert.Equal(5, draws.Select(d => d.Dx).Distinct().Count());
        Assert.Equal(5, draws.Select(d => d.Dy).Distinct().Count());
    }

    [Fact]
    public void A_record_that_is_not_an_example_is_reported_with_its_file_and_offset()
    {
        var good = Example(GrayPng(new byte[16], 4, 4), 1);
        var path = _dir.Combine("train-00000-of-00001.tfrecord");
        WriteRecords(path, [good.ToByteArray(), [0xFF, 0xFF, 0xFF], good.ToByteArray()]);
        var offset = 16 + good.CalculateSize();
        var pipeline = new RecordPipeline([path], Gray(4), Options(batchSize: 2));

        var error = Assert.Throws<PipelineException>(() => All(pipeline.Evaluation(CancellationToken.None)));

        Assert.Equal(path, error.Location);
        Assert.StartsWith($"{path}: record at byte {offset}: not a tf.train.Example", error.Message);
    }

    [Fact]
    public void An_image_that_cannot_be_decoded_is_reported_with_its_file_and_offset()
    {
        var good = Example(GrayPng(new byte[16], 4, 4), 2);
        var path = WriteShard(_dir.Combine("train-00000-of-00001.tfrecord"), good, good, Example("not an image"u8.ToArray(), 1));
        var pipeline = new RecordPipeline([path], Gray(4), Options(batchSize: 2));

        var error = Assert.Throws<PipelineException>(() => All(pipeline.Training(0, CancellationToken.None).Take(3)));

        Assert.StartsWith($"{path}: record at byte {2 * (16 + good.CalculateSize())}: image/encoded: not an image in a format we can read", error.Message);
    }

    [Fact]
    public void A_record_with_a_bad_checksum_is_reported_by_the_reader_with_its_file_and_offset()
    {
        var example = Example(GrayPng(new byte[16], 4, 4), 1);
        var path = WriteShard(_dir.Combine("train-00000-of-00001.tfrecord"), example, example);
        var bytes = File.ReadAllBytes(path);
        var second = 16 + example.CalculateSize();
        bytes[second + 12 + 3] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var pipeline = new RecordPipeline([path], Gray(4), Options(batchSize: 1));

        var error = Assert.Throws<TfRecordCorruptException>(() => All(pipeline.Evaluation(CancellationToken.None)));

        Assert.Equal(second, error.Offset);
        Assert.StartsWith($"{path}: record at byte {second}: data CRC mismatch", error.Message);
    }

    [Fact]
    public void A_label_below_one_is_reported_as_not_one_based()
    {
        var path = WriteShard(_dir.Combine("train-00000-of-00001.tfrecord"), Example(GrayPng(new byte[16], 4, 4), 0));
        var pipeline = new RecordPipeline([path], Gray(4), Options(batchSize: 1));

        var error = Assert.Throws<PipelineException>(() => All(pipeline.Evaluation(CancellationToken.None)));

        Assert.Contains("record at byte 0: image/class/label is 0, but labels count from 1", error.Message);
    }

    [Fact]
    public void A_truncated_shard_is_reported_when_the_pipeline_opens()
    {
        var example = Example(GrayPng(new byte[16], 4, 4), 1);
        var path = WriteShard(_dir.Combine("train-00000-of-00001.tfrecord"), example, example);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);

        var error = Assert.Throws<TfRecordCorruptException>(() => new RecordPipeline([path], Gray(4), Options()));

        Assert.Equal(16 + example.CalculateSize(), error.Offset);
        Assert.Contains("truncated record", error.Message);
    }

    [Fact]
    public void Fewer_examples_than_a_batch_cannot_train()
    {
        var pipeline = Idx(Options(batchSize: 64));

        var error = Assert.Throws<PipelineException>(() => pipeline.Training(0, CancellationToken.None));

        Assert.Contains("31 examples make no full batch of 64", error.Message);
    }

    [Fact]
    public void Cancelling_ends_enumeration_promptly()
    {
        using var cancellation = new CancellationTokenSource();
        using var batches = Idx(Options(batchSize: 2, prefetch: 1)).Training(0, cancellation.Token).GetEnumerator();
        Assert.True(batches.MoveNext());
        batches.Current.Dispose();

        cancellation.Cancel();
        var clock = Stopwatch.StartNew();

        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            while (batches.MoveNext())
            {
                batches.Current.Dispose();
            }
        });
        Assert.InRange(clock.ElapsedMilliseconds, 0, 1000);
    }

    [Fact]
    public void Abandoning_an_enumerator_stops_its_threads_at_once()
    {
        var pipeline = Idx(Options(batchSize: 2, prefetch: 2));
        for (var run = 0; run < 5; run++)
        {
            var batches = pipeline.Training(run, CancellationToken.None).GetEnumerator();
            Assert.True(batches.MoveNext());
            batches.Current.Dispose();
            var clock = Stopwatch.StartNew();

            // Disposing waits for the producer, the workers and the shard readers, so it returns only once they have stopped.
            batches.Dispose();

            Assert.InRange(clock.ElapsedMilliseconds, 0, 1000);
        }
    }

    [Fact]
    public void Skipped_steps_are_read_but_not_decoded()
    {
        // Unshuffled, one example per batch: step 0 is the undecodable record, and only step 0.
        var good = Example(GrayPng(new byte[16], 4, 4), 1);
        var path = WriteShard(_dir.Combine("train-00000-of-00001.tfrecord"), [Example("not an image"u8.ToArray(), 1), good, good, good]);
        var pipeline = new RecordPipeline([path], Gray(4), Options(batchSize: 1, shuffle: 0));

        Assert.Equal(3, Take(pipeline.Training(1, CancellationToken.None), 3).Count);
        Assert.Throws<PipelineException>(() => Take(pipeline.Training(0, CancellationToken.None), 1));
    }

    [Fact]
    public void Disposing_a_batch_empties_it()
    {
        var batch = Take(Idx().Evaluation(CancellationToken.None), 1);
        using var enumerator = Idx().Evaluation(CancellationToken.None).GetEnumerator();
        Assert.True(enumerator.MoveNext());
        var current = enumerator.Current;
        Assert.Equal(4 * Values, current.ImageMemory.Length);

        current.Dispose();
        current.Dispose();

        Assert.Empty(current.Images);
        Assert.Equal(batch[0].Labels, current.Labels);
    }

    private static int FirstPixel(Pipeline.Core.Records.Proto.Example example)
    {
        using var image = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.L8>(example.Bytes("image/encoded"));
        return image[0, 0].PackedValue;
    }
}
