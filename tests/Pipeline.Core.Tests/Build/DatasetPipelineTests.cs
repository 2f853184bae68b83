using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Build;

public sealed class DatasetPipelineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private DatasetPipeline Open(string dataset) => DatasetPipeline.Open(_dir.Path, dataset, _ => { });

    private static void BuildAll(DatasetPipeline pipeline)
    {
        foreach (var stage in pipeline.Stages)
        {
            pipeline.Run(stage.Name, force: false);
        }
    }

    private string Records(DatasetPipeline pipeline) => Path.Combine(pipeline.ArtifactsDirectory, RecordsStage.Output);

    [Fact]
    public void Idx_dataset_builds_labels_and_every_example_into_shards()
    {
        var pipeline = Open(TestDatasets.IdxDataset(_dir, train: 30, test: 9));

        BuildAll(pipeline);

        Assert.Equal("circle\nsquare\ntriangle\n", File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, "labels.txt")));
        Assert.Equal(
            ["manifest.json", "test-00000-of-00001.tfrecord", "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"],
            Directory.GetFiles(Records(pipeline)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var train = Shards.ReadSplit(Records(pipeline), "train");
        Assert.Equal(30, train.Count);
        Assert.Equal(9, Shards.ReadSplit(Records(pipeline), "test").Count);
        Assert.Equal(30, train.Select(e => e.Text("image/filename")).Distinct().Count());
    }

    [SmallDiskFact]
    public void Records_on_a_full_disk_fail_in_one_line_naming_the_shard_and_the_full_disk_and_keep_the_old_record()
    {
        using var disk = new SmallDisk(kilobytes: 256);
        var pipeline = DatasetPipeline.Open(_dir.Path, TestDatasets.IdxDataset(_dir), _ => { }, artifactsRoot: disk.Combine("artifacts"));
        pipeline.Run("labels", force: false);
        var lockBefore = File.ReadAllBytes(pipeline.Engine.LockPath);
        disk.Fill();

        var error = Assert.Throws<PipelineException>(() => pipeline.Run("records", force: false));

        Assert.Matches(@"/records/(train|test)-0000\d-of-0000\d\.tfrecord: the disk is full \(No space left on device\)", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(lockBefore, File.ReadAllBytes(pipeline.Engine.LockPath));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(pipeline.ArtifactsDirectory, ".tmp")));
    }

    [Fact]
    public void Idx_examples_carry_exactly_the_reference_keys_and_a_grayscale_png()
    {
        var pipeline = Open(TestDatasets.IdxDataset(_dir, train: 6, test: 3));
        BuildAll(pipeline);

        foreach (var example in Shards.ReadSplit(Records(pipeline), "train"))
        {
            Assert.Equal(ExampleBuilder.Keys, example.Features.Feature.Keys.Order(StringComparer.Ordinal));
            var label = example.Text("image/class/synset");
            Assert.Equal(Array.IndexOf(TestDatasets.ClassNames, label) + 1, example.Int("image/class/label"));
            Assert.Equal("PNG", example.Text("image/format"));
            Assert.Equal(1, example.Int("image/channels"));
            using var image = Image.Load<L8>(example.Bytes("image/encoded"));
            Assert.Equal((4, 4), (image.Width, image.Height));
            // Image i of the fixture is filled with 10·i and labelled i mod 3.
            var index = int.Parse(example.Text("image/filename")[^9..^4], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(10 * index, image[0, 0].PackedValue);
            Assert.Equal(TestDatasets.ClassNames[index % 3], label);
        }
    }

    [Fact]
    public void Split_with_fewer_examples_than_shards_still_gets_every_shard_file()
    {
        var pipeline = Open(TestDatasets.IdxDataset(_dir, train: 7, test: 3, records: """{ "shards": { "train": 3, "test": 5 } }"""));

        BuildAll(pipeline);

        var test = Directory.GetFiles(Records(pipeline), "test-*").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(5, test.Count);
        Assert.Equal([0, 1, 0, 1, 1], test.Select(f => Shards.Read(f).Count));
        Assert.Equal([2, 2, 3], Directory.GetFiles(Records(pipeline), "train-*").Order(StringComparer.Ordinal).Select(f => Shards.Read(f).Count));
    }

    [Fact]
    public void Rerun_with_identical_inputs_writes_byte_identical_shards()
    {
        var pipeline = Open(TestDatasets.IdxDataset(_dir));
        BuildAll(pipeline);
        var first = Shards.HashAll(Records(pipeline));

        var outcome = pipeline.Run("records", force: true);
        var elsewhere = DatasetPipeline.Open(_dir.Path, "tiny", _ => { }, artifactsRoot: _dir.Combine("other-artifacts"));
        BuildAll(elsewhere);

        Assert.False(outcome.OutputsChanged);
        Assert.Equal(first, Shards.HashAll(Records(pipeline)));
        Assert.Equal(first, Shards.HashAll(Records(elsewhere)));
    }

    [Fact]
    public void Changing_the_shard_count_makes_only_records_stale_and_says_so()
    {
        var name = TestDatasets.IdxDataset(_dir);
        BuildAll(Open(name));
        var definition = _dir.Combine($"datasets/{name}/dataset.json");
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("\"train\": 2", "\"train\": 3"));

        var status = Open(name).Status();

        Assert.True(status[0].IsFresh);
        Assert.False(status[1].IsFresh);
        Assert.Equal(["records.shards.train 2 → 3"], status[1].Reasons);
    }

    [Fact]
    public void Unrelated_dataset_change_leaves_both_stages_fresh()
    {
        var name = TestDatasets.IdxDataset(_dir);
        BuildAll(Open(name));
        var definition = _dir.Combine($"datasets/{name}/dataset.json");
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("\"name\": \"tiny\"", "\"name\": \"tiny\", \"description\": \"now described\""));

        Assert.All(Open(name).Status(), s => Assert.True(s.IsFresh, s.Summary));
    }

    [Fact]
    public void New_training_rows_make_both_stages_stale_naming_the_changed_file()
    {
        var name = TestDatasets.IdxDataset(_dir);
        BuildAll(Open(name));
        TestDatasets.WriteIdx(_dir.Combine($"data/{name}/train-images-idx3-ubyte.gz"), _dir.Combine($"data/{name}/train-labels-idx1-ubyte.gz"), 33);

        var status = Open(name).Status();

        Assert.Equal(["input train.labels changed"], status[0].Reasons);
        Assert.Equal(["2 inputs changed (train.images, train.labels)"], status[1].Reasons);
    }

    [Fact]
    public void Baseline_jpeg_goes_into_the_record_unchanged_and_png_becomes_jpeg()
    {
        var name = TestDatasets.CsvDataset(_dir);
        _dir.WriteBytes($"datasets/{name}/images/odd.png", TestDatasets.Png(6, 5));
        File.AppendAllText(_dir.Combine($"datasets/{name}/train_set.csv"), "images/odd.png,square\n");
        var pipeline = Open(name);

        BuildAll(pipeline);

        var train = Shards.ReadSplit(Records(pipeline), "train").ToDictionary(e => e.Text("image/filename"));
        Assert.Equal(File.ReadAllBytes(_dir.Combine($"datasets/{name}/images/circle_1.jpg")), train["circle_1.jpg"].Bytes("image/encoded"));
        Assert.Equal("JPEG", train["odd.png"].Text("image/format"));
        Assert.Equal((6L, 5L, 3L), (train["odd.png"].Int("image/width"), train["odd.png"].Int("image/height"), train["odd.png"].Int("image/channels")));
        using var decoded = Image.Load<Rgb24>(train["odd.png"].Bytes("image/encoded"));
        Assert.Equal(6, decoded.Width);
        Assert.Equal(3, Shards.ReadSplit(Records(pipeline), "validation").Count);
    }

    [Fact]
    public void Corrupt_image_stops_the_build_naming_the_csv_line_and_the_file()
    {
        var name = TestDatasets.CsvDataset(_dir);
        var jpeg = _dir.Combine($"datasets/{name}/images/square_2.jpg");
        File.WriteAllBytes(jpeg, File.ReadAllBytes(jpeg)[..40]);
        var pipeline = Open(name);
        pipeline.Run("labels", false);

        var error = Assert.Throws<Pipeline.Core.Images.BadImageException>(() => pipeline.Run("records", false));

        // Line 1 is the header; square_2 is the second square in train_set.csv after three circles.
        Assert.StartsWith("datasets/shapes/train_set.csv:6:", error.Message.Replace(_dir.Path + "/", ""));
        Assert.Contains("square_2.jpg", error.Message);
        Assert.False(Directory.Exists(Records(pipeline)));
    }

    [Fact]
    public void Of_two_bad_images_in_different_shards_the_first_in_record_order_is_reported_and_no_file_is_left_open()
    {
        var name = TestDatasets.CsvDataset(_dir, perClass: 30, extra: """, "records": { "shards": { "train": 4 } }""");
        var pipeline = Open(name);
        BuildAll(pipeline);
        var order = Shards.ReadSplit(Records(pipeline), "train").Select(e => e.Text("image/filename")).ToList();
        // The 70th image lies in a later shard and chunk than the 10th; both are cut short.
        foreach (var file in new[] { order[9], order[69] })
        {
            var path = _dir.Combine($"datasets/{name}/images/{file}");
            File.WriteAllBytes(path, File.ReadAllBytes(path)[..40]);
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var error = Assert.Throws<Pipeline.Core.Images.BadImageException>(() => pipeline.Run("records", force: true));

            Assert.Contains(order[9], error.Message);
            if (OperatingSystem.IsLinux())
            {
                var open = Directory.GetFiles("/proc/self/fd").Select(fd => new FileInfo(fd).LinkTarget ?? "")
                    .Where(target => target.StartsWith(pipeline.ArtifactsDirectory, StringComparison.Ordinal)).ToList();
                Assert.Empty(open);
            }
        }
        // The shards built before are kept as they were.
        Assert.Equal(order, Shards.ReadSplit(Records(pipeline), "train").Select(e => e.Text("image/filename")));
    }

    [Fact]
    public void Skip_policy_leaves_bad_images_out_and_lists_them_in_rejects_json()
    {
        var name = TestDatasets.CsvDataset(_dir, extra: """, "records": { "on_bad_image": "skip" }""");
        File.WriteAllText(_dir.Combine($"datasets/{name}/images/square_2.jpg"), "not an image at all");
        var pipeline = Open(name);

        BuildAll(pipeline);

        var rejects = File.ReadAllText(Path.Combine(Records(pipeline), RecordsStage.RejectsName));
        Assert.Contains("train_set.csv:6", rejects);
        Assert.Contains("square_2.jpg", rejects);
        Assert.Equal(8, Shards.ReadSplit(Records(pipeline), "train").Count);
        Assert.Contains("\"rejected\": 1", File.ReadAllText(Path.Combine(Records(pipeline), RecordsStage.ManifestName)));
    }

    [Theory]
    [InlineData("skip")]
    [InlineData("error")]
    public void An_image_url_the_server_answers_404_for_is_a_bad_image(string policy)
    {
        using var server = new System.Net.HttpListener();
        var port = FreePort();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        _ = Task.Run(() =>
        {
            while (server.IsListening)
            {
                try
                {
                    var context = server.GetContext();
                    context.Response.StatusCode = 404;
                    context.Response.Close();
                }
                catch (System.Net.HttpListenerException)
                {
                    return;
                }
            }
        });
        var name = TestDatasets.CsvDataset(_dir, extra: $$""", "records": { "on_bad_image": "{{policy}}" }""");
        File.AppendAllText(_dir.Combine($"datasets/{name}/train_set.csv"), $"http://127.0.0.1:{port}/gone/square_9.jpg,square\n");
        var pipeline = Open(name);
        pipeline.Run("labels", false);

        if (policy == "error")
        {
            var error = Assert.Throws<Pipeline.Core.Images.BadImageException>(() => pipeline.Run("records", false));
            Assert.Contains("train_set.csv:11", error.Message);
            Assert.Contains("HTTP 404", error.Message);
            return;
        }
        pipeline.Run("records", false);
        var rejects = File.ReadAllText(Path.Combine(Records(pipeline), RecordsStage.RejectsName));
        Assert.Contains("train_set.csv:11", rejects);
        Assert.Contains("square_9.jpg", rejects);
        Assert.Contains("HTTP 404", rejects);
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        socket.Start();
        return ((System.Net.IPEndPoint)socket.LocalEndpoint).Port;
    }

    [Fact]
    public void Label_outside_labels_txt_is_reported_with_its_line_and_a_suggestion()
    {
        var name = TestDatasets.CsvDataset(_dir);
        File.AppendAllText(_dir.Combine($"datasets/{name}/eval_set.csv"), "images/circle_1.jpg,circel\n");
        var pipeline = Open(name);
        pipeline.Run("labels", false);

        var error = Assert.Throws<PipelineException>(() => pipeline.Run("records", false));

        Assert.Contains("eval_set.csv:4", error.Message);
        Assert.Contains("label \"circel\" is not in labels.txt (did you mean \"circle\"?)", error.Message);
    }

    [Fact]
    public void Renaming_an_idx_file_changes_neither_freshness_nor_the_records()
    {
        var name = TestDatasets.IdxDataset(_dir);
        var pipeline = Open(name);
        BuildAll(pipeline);
        var before = Shards.HashAll(Records(pipeline));
        File.Move(_dir.Combine($"data/{name}/t10k-images-idx3-ubyte.gz"), _dir.Combine($"data/{name}/renamed.gz"));
        var definition = _dir.Combine($"datasets/{name}/dataset.json");
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("t10k-images-idx3-ubyte.gz", "renamed.gz"));

        var renamed = Open(name);
        var status = renamed.Status();
        renamed.Run("records", force: true);

        Assert.All(status, s => Assert.True(s.IsFresh, s.Summary));
        Assert.Equal(before, Shards.HashAll(Records(renamed)));
    }

    [Fact]
    public void Hashes_learned_by_a_status_check_are_kept_so_a_touched_input_is_read_once()
    {
        var name = TestDatasets.IdxDataset(_dir);
        BuildAll(Open(name));
        var input = _dir.Combine($"data/{name}/train-images-idx3-ubyte.gz");
        var touched = DateTime.UtcNow.AddMinutes(-5);
        File.SetLastWriteTimeUtc(input, touched);

        Assert.All(Open(name).Status(), s => Assert.True(s.IsFresh, s.Summary));

        var cache = File.ReadAllText(Path.Combine(Open(name).ArtifactsDirectory, ".file-hashes.json"));
        Assert.Contains(touched.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture), cache);
    }

    [Fact]
    public void Clean_removes_every_output_and_record_so_every_stage_is_stale()
    {
        var pipeline = Open(TestDatasets.IdxDataset(_dir));
        BuildAll(pipeline);

        var removed = pipeline.Clean(_ => { });

        Assert.True(removed >= 3);
        Assert.False(File.Exists(Path.Combine(pipeline.ArtifactsDirectory, "labels.txt")));
        Assert.False(Directory.Exists(Records(pipeline)));
        var status = pipeline.Status();
        Assert.Equal(["never built (no entry in pipeline.lock.json)"], status[0].Reasons);
        Assert.Equal(["input artifacts/tiny/labels.txt missing"], status[1].Reasons);
    }

    [Fact]
    public void Rejects_report_is_the_same_wherever_the_checkout_is()
    {
        string BuildCopy(string where)
        {
            using var copy = new TempDirectory();
            var name = TestDatasets.CsvDataset(copy, extra: """, "records": { "on_bad_image": "skip" }""");
            File.WriteAllText(copy.Combine($"datasets/{name}/images/square_2.jpg"), "not an image at all");
            var pipeline = DatasetPipeline.Open(copy.Path, name, _ => { });
            BuildAll(pipeline);
            return File.ReadAllText(Path.Combine(Records(pipeline), RecordsStage.RejectsName));
        }

        var first = BuildCopy("a");
        var second = BuildCopy("b");

        Assert.Equal(first, second);
        Assert.Contains("\"origin\": \"train_set.csv:6\"", first);
        Assert.DoesNotContain(Path.GetTempPath(), first);
    }

    [Theory]
    [InlineData("bmp")]
    [InlineData("tga")]
    [InlineData("tiff")]
    [InlineData("gif")]
    [InlineData("png")]
    [InlineData("webp")]
    public void Damaged_images_of_any_format_are_skipped_never_crash_the_stage(string format)
    {
        var name = TestDatasets.CsvDataset(_dir, perClass: 2, extra: """, "records": { "on_bad_image": "skip" }""");
        var valid = Encode(format);
        var random = new Random(11);
        var rows = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var bytes = (byte[])valid.Clone();
            if (i % 2 == 0)
            {
                bytes = bytes[..random.Next(1, bytes.Length)];
            }
            for (var flips = random.Next(1, 8); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            _dir.WriteBytes($"datasets/{name}/images/bad_{i}.{format}", bytes);
            rows.Add($"images/bad_{i}.{format},circle");
        }
        File.AppendAllLines(_dir.Combine($"datasets/{name}/train_set.csv"), rows);
        var pipeline = Open(name);

        BuildAll(pipeline);

        var written = Shards.ReadSplit(Records(pipeline), "train").Count;
        var rejected = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Records(pipeline), RecordsStage.ManifestName)))!["rejected"]!.GetValue<int>();
        Assert.Equal(3 + 40, written + rejected);
    }

    private static byte[] Encode(string format)
    {
        using var image = new Image<Rgb24>(24, 16);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < row.Length; x++)
                {
                    row[x] = new Rgb24((byte)(x * 10), (byte)(y * 15), (byte)(x * y));
                }
            }
        });
        using var buffer = new MemoryStream();
        switch (format)
        {
            case "bmp": image.SaveAsBmp(buffer); break;
            case "tga": image.SaveAsTga(buffer); break;
            case "tiff": image.SaveAsTiff(buffer); break;
            case "gif": image.SaveAsGif(buffer); break;
            case "png": image.SaveAsPng(buffer); break;
            default: image.SaveAsWebp(buffer); break;
        }
        return buffer.ToArray();
    }

    [Fact]
    public void Folders_dataset_builds_with_class_names_from_folders()
    {
        for (var c = 0; c < TestDatasets.ClassNames.Length; c++)
        {
            for (var i = 0; i < 10; i++)
            {
                _dir.WriteBytes($"photos/{TestDatasets.ClassNames[c]}/{i}.jpg", TestDatasets.Jpeg(8, 8, (byte)(c * 90), 0, 0));
            }
        }
        _dir.WriteText("datasets/photos/dataset.json", """
            { "name": "photos", "source": { "kind": "folders", "root": "../../photos", "validation_percent": 20 } }
            """);
        var pipeline = Open("photos");

        BuildAll(pipeline);

        var train = Shards.ReadSplit(Records(pipeline), "train");
        var validation = Shards.ReadSplit(Records(pipeline), "validation");
        Assert.Equal(30, train.Count + validation.Count);
        Assert.NotEmpty(validation);
        Assert.Equal("circle\nsquare\ntriangle\n", File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, "labels.txt")));
    }

    [Fact]
    public void Fashion_mnist_subset_builds_ten_labels_and_every_example()
    {
        const string source = "/usr/share/datasets/fashion-mnist";
        Assert.True(File.Exists($"{source}/t10k-images-idx3-ubyte.gz"),
            "Fashion-MNIST is missing: ./build.sh installs it (Debian package dataset-fashion-mnist)");
        var images = Pipeline.Core.Datasets.IdxFile.Read($"{source}/t10k-images-idx3-ubyte.gz");
        var labels = Pipeline.Core.Datasets.IdxFile.Read($"{source}/t10k-labels-idx1-ubyte.gz");
        const int count = 500;
        WriteIdxSubset(_dir.Combine("fm/train-images-idx3-ubyte"), images, count, 0x803, [count, 28, 28]);
        WriteIdxSubset(_dir.Combine("fm/train-labels-idx1-ubyte"), labels, count, 0x801, [count]);
        var definition = File.ReadAllText(Path.Combine(Repository.Root, "datasets/fashion-mnist/dataset.json"))
            .Replace($"{source}/train-images-idx3-ubyte.gz", "../../fm/train-images-idx3-ubyte")
            .Replace($"{source}/train-labels-idx1-ubyte.gz", "../../fm/train-labels-idx1-ubyte")
            // The default's validation split is the first 500 of each class; a 500-image subset has about 50 a class.
            .Replace("\"skip_per_class\": 500", "\"skip_per_class\": 10", StringComparison.Ordinal)
            .Replace("\"per_class\": 500", "\"per_class\": 10", StringComparison.Ordinal);
        _dir.WriteText("datasets/fashion-mnist/dataset.json", definition);
        var pipeline = Open("fashion-mnist");

        BuildAll(pipeline);

        var written = File.ReadAllLines(Path.Combine(pipeline.ArtifactsDirectory, "labels.txt"));
        Assert.Equal(10, written.Length);
        Assert.Contains("Ankle boot", written);
        Assert.Equal(count - 100, Shards.ReadSplit(Records(pipeline), "train").Count);
        Assert.Equal(100, Shards.ReadSplit(Records(pipeline), "validation").Count);
        Assert.Equal(10_000, Shards.ReadSplit(Records(pipeline), "test").Count);
        // The first image of the file is the first of its class: validation's, named by split and index.
        var first = Shards.ReadSplit(Records(pipeline), "validation").First(e => e.Text("image/filename") == "validation-00000.png");
        using var image = Image.Load<L8>(first.Bytes("image/encoded"));
        Assert.Equal(images.Data[..784], Enumerable.Range(0, 784).Select(i => image[i % 28, i / 28].PackedValue));
    }

    private static void WriteIdxSubset(string path, Pipeline.Core.Datasets.IdxFile idx, int count, int magic, int[] dims)
    {
        using var file = File.Create(path);
        Span<byte> word = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, magic);
        file.Write(word);
        foreach (var d in dims)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, d);
            file.Write(word);
        }
        file.Write(idx.Data.AsSpan(0, idx.Data.Length / idx.Count * count));
    }
}
