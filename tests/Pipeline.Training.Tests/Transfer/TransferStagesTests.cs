using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Http;
using Pipeline.Serving.Prediction;
using Pipeline.Training.Export;
using Pipeline.Training.Smoke;
using Pipeline.Training.Tests.TestSupport;
using Pipeline.Training.Train;
using Pipeline.Training.Transfer;

namespace Pipeline.Training.Tests.Transfer;

/// <summary>
/// A transfer dataset through the chain, on generated images and the real ImageNet ResNet-18: which bottlenecks each
/// change computes, and a transferred model exported, smoke-predicted and served.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public sealed class TransferStagesTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _log = [];

    public void Dispose() => _dir.Dispose();

    private DatasetPipeline Open(string name) => DatasetPipeline.Open(_dir.Path, name, _log.Add, laterStages: TrainingStages.All);

    /// <summary>Builds the chain up to <paramref name="stage"/> and returns what the Bottlenecks stage logged about its work.</summary>
    private string Build(DatasetPipeline pipeline, string stage)
    {
        _log.Clear();
        // The upstream dataset of a dataset:NAME transfer is set up by each test itself (a fixed, untrained model).
        pipeline.Build(stage, new BuildOptions { Upstream = false });
        return _log.LastOrDefault(l => l.Contains("reused from", StringComparison.Ordinal)) ?? "(Bottlenecks did not run)";
    }

    /// <summary>transfer keys describing <see cref="CnnWeights"/>'s network.</summary>
    private const string CnnInput = "\"architecture\": \"cnn\", \"input_size\": 16, \"normalization\": { \"mean\": [0.2], \"std\": [0.35] },";

    /// <summary>Gates that let an untrained model through Export and SmokePredict.</summary>
    private const string Lenient = "\"export\": { \"min_accuracy\": 0 }, \"smoke\": { \"accuracy_tolerance\": 1 },";

    /// <summary>
    /// A cnn's seeded initial weights as a state dict file under weights/: PyTorch's pickle format for .pt (as
    /// torch.save(model.state_dict()) writes it), else safetensors. Returns transfer.from for it.
    /// </summary>
    private string CnnWeights(string file)
    {
        Directory.CreateDirectory(_dir.Combine("weights"));
        TorchSharp.torch.manual_seed(7);
        using var cnn = global::Pipeline.Training.Models.ModelFactory.Create(FixedModel.Parameters, ShapesDataset.Classes.Length);
        if (file.EndsWith(".pt", StringComparison.Ordinal))
        {
            TorchSharp.PyBridge.PyBridgeModuleExtensions.save_py(cnn, _dir.Combine($"weights/{file}"));
        }
        else
        {
            TorchSharp.PyBridge.PyBridgeModuleExtensions.save_safetensors(cnn, _dir.Combine($"weights/{file}"));
        }
        return $"weights:../../weights/{file}";
    }

    private string StatusOf(DatasetPipeline pipeline, string stage) =>
        DatasetPipeline.Describe(pipeline.Status().Single(s => s.Stage == stage));

    [Fact]
    public void Each_change_computes_only_the_bottlenecks_it_must()
    {
        // 3 classes × 2 train images + 3 × 3 test images.
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 2);
        var pipeline = Open(name);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        Assert.Contains("15 of 15 images have no cached bottleneck", StatusOf(pipeline, "bottlenecks"));
        Assert.Contains("15 bottlenecks computed, 0 reused", Build(pipeline, "bottlenecks"));

        // New images: one more per class.
        pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 3));
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        Assert.Contains("3 of 18 images have no cached bottleneck", StatusOf(pipeline, "bottlenecks"));
        Assert.Contains("3 bottlenecks computed, 15 reused", Build(pipeline, "bottlenecks"));

        // A changed image: one pixel of the first train image (IDX: a 16-byte header, then 16 × 16 bytes per image).
        using (var images = File.OpenWrite(ShapesDataset.ImagesPath(_dir, name, "train")))
        {
            images.Position = 16 + 5;
            images.WriteByte(200);
        }
        Assert.Contains("1 bottleneck computed, 17 reused", Build(pipeline, "bottlenecks"));

        // Head training parameters alone: no bottleneck computed, only the head retrained.
        Build(pipeline, "train");
        pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 3, transfer: "\"learning_rate\": 0.05,"));
        Assert.StartsWith("Bottlenecks: fresh", StatusOf(pipeline, "bottlenecks"));
        Assert.Contains("transfer.learning_rate 0.01 → 0.05", StatusOf(pipeline, "train"));
        Assert.Equal("(Bottlenecks did not run)", Build(pipeline, "train"));
        Assert.Contains(_log, l => l.Contains("trained the head 100 steps", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_transferred_model_exports_smoke_predicts_and_serves_over_http()
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 4, sections: Lenient);
        var pipeline = Open(name);

        Build(pipeline, "smokepredict");

        var lines = string.Join("\n", _log);
        Assert.Matches(@"step 100: train accuracy [0-9.]+%, cross entropy [0-9.]+, test accuracy [0-9.]+% \(N=9\)", lines);
        var trained = TrainedModel.Read(Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output));
        Assert.Equal("imagenet-resnet18+linear", trained.Architecture);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, "eval", "metrics.json")))!;
        Assert.Equal(9, metrics["examples"]!.GetValue<int>());

        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.All(report["checks"]!.AsArray(), c => Assert.True(c!["passed"]!.GetValue<bool>(), c["check"]!.GetValue<string>()));
        // One ONNX graph (backbone and head) agrees with the backbone's bottleneck then the head in TorchSharp.
        Assert.True(report["max_probability_difference"]!.GetValue<double>() <= 1e-4);

        var exported = ExportedModel.Open(Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output));
        Assert.Equal("imagenet-resnet18+linear", exported.Card.Architecture);
        Assert.Equal([3, 224], new[] { exported.Card.Input.Channels, exported.Card.Input.Size });
        using var classifier = OnnxClassifier.Load(exported, threads: 1);
        await using var server = await PredictionServer.StartAsync(classifier, new ServerOptions("shapes", "127.0.0.1", 0));
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        var request = new JsonObject
        {
            ["instances"] = new JsonArray(
                new JsonObject { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(ShapesDataset.Png(1)) } },
                new JsonObject { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(ShapesDataset.Png(2)) } }),
        };

        using var response = await client.PostAsJsonAsync("/v1/models/shapes:predict", request);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var predictions = answer["predictions"]!.AsArray();
        Assert.Equal(2, predictions.Count);
        Assert.All(predictions, p =>
        {
            var probabilities = p!["probabilities"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
            Assert.Equal(3, probabilities.Count);
            Assert.Equal(1, probabilities.Sum(), 4);
        });
    }

    [Fact]
    public void Another_datasets_export_cut_before_its_classifier_is_a_backbone_to_transfer_from()
    {
        // The upstream: a cnn on the shapes, exported.
        var upstream = Open(ShapesDataset.Write(_dir, train: 30, test: 30, sections: "\"export\": { \"min_accuracy\": 0 },"));
        upstream.Run("labels", false);
        upstream.Run("records", false);
        FixedModel.WriteTrained(upstream);
        upstream.Engine.Run(upstream.Stage("evaluate"));
        upstream.Engine.Run(upstream.Stage("export"));
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 4, from: "dataset:shapes", sections: Lenient);
        var pipeline = Open(name);

        Build(pipeline, "smokepredict");

        var exported = ExportedModel.Open(Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output));
        Assert.Equal("dataset:shapes+linear", exported.Card.Architecture);
        Assert.Equal(FixedModel.Parameters.InputSize, exported.Card.Input.Size);
        Assert.Equal(1, exported.Card.Input.Channels);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.All(report["checks"]!.AsArray(), c => Assert.True(c!["passed"]!.GetValue<bool>(), c["check"]!.GetValue<string>()));

        // The cut is right: the upstream's own classifier (fc2) on the backbone's bottleneck gives the upstream's predictions.
        var original = ExportedModel.Open(Path.Combine(upstream.ArtifactsDirectory, ExportStage.Output));
        using var backbone = Backbones.Open(pipeline.Dataset, pipeline.ArtifactsDirectory, threads: 1);
        using var classifier = OnnxClassifier.Load(original, threads: 1);
        var weights = SafetensorsValues(original.WeightsPath, "fc2.weight");
        var bias = SafetensorsValues(original.WeightsPath, "fc2.bias");
        var images = Enumerable.Range(0, 3).Select(ShapesDataset.Png).ToList();
        var decoder = new Core.Images.InputImageDecoder(backbone.Input);
        foreach (var (png, i) in images.Select((png, i) => (png, i)))
        {
            var input = new float[backbone.Input.ValuesPerImage];
            decoder.Decode(png, input, $"shape {i}");
            var bottleneck = backbone.Bottleneck(input);
            var expected = classifier.Predict([png], [$"shape {i}"])[0].Probabilities;
            var logits = Enumerable.Range(0, bias.Length).Select(c => bias[c] + Enumerable.Range(0, bottleneck.Length).Sum(k => weights[c * bottleneck.Length + k] * bottleneck[k])).ToArray();
            var max = logits.Max();
            var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
            var probabilities = exp.Select(e => e / exp.Sum()).ToArray();
            for (var c = 0; c < probabilities.Length; c++)
            {
                Assert.Equal(expected[c], probabilities[c], 4);
            }
        }
    }

    [Fact]
    public void Transferring_from_a_dataset_with_no_export_says_to_build_it_first()
    {
        var pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 2, from: "dataset:nothing-here"));
        pipeline.Run("labels", false);
        pipeline.Run("records", false);

        const string advice = "transfer.from is dataset:nothing-here, which has no export yet: build it first (./build.sh --dataset=nothing-here --target=Export)";
        Assert.Contains($"nothing-here/export/latest missing: {advice}", StatusOf(pipeline, "bottlenecks"));
        var error = Assert.Throws<Core.Engine.PipelineException>(() => pipeline.Run("bottlenecks", false));

        Assert.Contains(advice, error.Message);
    }

    [Fact]
    public void A_state_dict_file_of_one_of_our_architectures_is_a_backbone_to_transfer_from()
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 4, from: CnnWeights("cnn.pt"), transfer: CnnInput, sections: Lenient);
        var pipeline = Open(name);

        Assert.Contains("21 bottlenecks computed", Build(pipeline, "smokepredict"));

        var exported = ExportedModel.Open(Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output));
        Assert.Equal("weights:../../weights/cnn.pt+linear", exported.Card.Architecture);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.All(report["checks"]!.AsArray(), c => Assert.True(c!["passed"]!.GetValue<bool>(), c["check"]!.GetValue<string>()));
    }

    [Fact]
    public void Training_the_head_again_gives_byte_identical_weights()
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 4, from: CnnWeights("cnn.safetensors"), transfer: CnnInput, sections: Lenient);
        var pipeline = Open(name);
        Build(pipeline, "train");
        var model = Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output, "model.bin");
        var first = File.ReadAllBytes(model);

        for (var run = 0; run < 4; run++)
        {
            // Fresh arrays each run land at other addresses: the weights must not depend on where.
            GC.Collect();
            var padding = new byte[Random.Shared.Next(1, 64)];
            pipeline.Engine.Run(pipeline.Stages.Single(s => s.Name == "train"), force: true);
            GC.KeepAlive(padding);

            Assert.Equal(first, File.ReadAllBytes(model));
        }
    }

    [Fact]
    public void Fine_tuning_trains_the_last_block_and_the_head_and_leaves_the_rest_as_the_weights_file_has_it()
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 4, from: CnnWeights("cnn.safetensors"),
            transfer: CnnInput + "\"fine_tune\": { \"steps\": 20, \"batch_size\": 6 },", sections: Lenient);
        var pipeline = Open(name);

        Build(pipeline, "smokepredict");

        Assert.Contains(_log, l => l.Contains("fine-tuning fc1 and the head of cnn", StringComparison.Ordinal));
        Assert.Contains(_log, l => l.Contains("fine-tune step 20: train accuracy", StringComparison.Ordinal));
        var trained = TrainedModel.Read(Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output));
        Assert.Equal("cnn", trained.Architecture);
        Assert.Equal(120, trained.Steps); // 100 head steps, then 20 of fine-tuning
        var exported = ExportedModel.Open(Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output));
        Assert.Equal(SafetensorsValues(_dir.Combine("weights/cnn.safetensors"), "conv2.weight"), SafetensorsValues(exported.WeightsPath, "conv2.weight"));
        Assert.Equal(SafetensorsValues(_dir.Combine("weights/cnn.safetensors"), "bn1.running_mean"), SafetensorsValues(exported.WeightsPath, "bn1.running_mean"));
        Assert.NotEqual(SafetensorsValues(_dir.Combine("weights/cnn.safetensors"), "fc1.weight"), SafetensorsValues(exported.WeightsPath, "fc1.weight"));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.All(report["checks"]!.AsArray(), c => Assert.True(c!["passed"]!.GetValue<bool>(), c["check"]!.GetValue<string>()));
    }

    [Fact]
    public void A_state_dict_that_does_not_fit_the_architecture_lists_the_missing_and_unexpected_keys_and_keeps_the_cache()
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 2);
        var pipeline = Open(name);
        Build(pipeline, "bottlenecks");
        var cached = Directory.GetFiles(Path.Combine(pipeline.ArtifactsDirectory, BottlenecksStage.CacheFolder), "*", SearchOption.AllDirectories).Length;
        // A cnn's weights, said to be a resnet18's.
        pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 2, from: CnnWeights("cnn.safetensors"), transfer: "\"architecture\": \"resnet18\","));

        var error = Assert.Throws<Core.Engine.PipelineException>(() => pipeline.Run("bottlenecks", false));

        Assert.Equal(_dir.Combine("weights/cnn.safetensors"), error.Location);
        Assert.Contains("the state dict does not fit resnet18 (transfer.architecture). ", error.Message);
        Assert.Matches(@"\. \d+ missing keys: fc\.bias, fc\.weight, layer1\.0\.bn1\.bias, ", error.Message);
        Assert.Contains(". 9 unexpected keys: bn2.bias, bn2.running_mean, bn2.running_var, bn2.weight, conv2.weight, fc1.bias, fc1.weight, fc2.bias, and 1 more. ", error.Message);
        Assert.Contains("conv1.weight is [24, 1, 3, 3] in the file, [64, 3, 7, 7] in resnet18", error.Message);
        Assert.Equal(cached, Directory.GetFiles(Path.Combine(pipeline.ArtifactsDirectory, BottlenecksStage.CacheFolder), "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void A_record_whose_image_cannot_be_decoded_names_its_shard_and_offset_and_keeps_the_cache()
    {
        var pipeline = Open(ShapesDataset.WriteTransfer(_dir, perClass: 2));
        Build(pipeline, "bottlenecks");
        var cacheFolder = Path.Combine(pipeline.ArtifactsDirectory, BottlenecksStage.CacheFolder);
        var cached = Directory.GetFiles(cacheFolder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        // The train shard rewritten with one record whose bytes claim to be a PNG and are not one.
        var shard = Directory.GetFiles(Path.Combine(pipeline.ArtifactsDirectory, "records"), "train-*.tfrecord").Single();
        var image = new Core.Images.EncodedImage("not an image"u8.ToArray(), "PNG", 16, 16, 1, "Grayscale");
        using (var writer = Core.Records.TfRecordWriter.Create(shard))
        {
            writer.Write(Core.Records.ExampleBuilder.Build(image, 1, "diagonal", "broken.png"));
        }

        var error = Assert.Throws<Core.Engine.PipelineException>(() => pipeline.Engine.Run(pipeline.Stage("bottlenecks")));

        Assert.Equal(shard, error.Location);
        Assert.Contains("record at byte 0: ", error.Message);
        Assert.Contains("rebuild the records with --target=Records --force", error.Message);
        Assert.Equal(cached, Directory.GetFiles(cacheFolder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_graph_that_does_not_end_in_a_classifier_gives_no_backbone_and_is_named()
    {
        // An image in, a per-pixel map out: no Gemm before the Softmax, so no vector per image to cut at.
        var graph = new Core.Onnx.OnnxGraph("segmenter");
        var x = graph.Input(ModelCard.OnnxInput, "batch", 1, 16, 16);
        graph.Node("Softmax", [graph.Node("Relu", [x], "map")], ModelCard.OnnxOutput, Core.Onnx.OnnxGraph.Int("axis", 1));
        graph.Output(ModelCard.OnnxOutput, "batch", 1, 16, 16);

        var error = Assert.Throws<Core.Engine.PipelineException>(() => Backbones.CutBeforeClassifier(graph.ToModel("test", "1"), "segmenter.onnx"));

        Assert.Equal("segmenter.onnx", error.Location);
        Assert.Contains("does not end in a classifier (Gemm, then Softmax answering \"probabilities\"): no backbone to cut from it", error.Message);
    }

    /// <summary>One tensor of a safetensors file, as floats (little-endian F32, as every export writes).</summary>
    private static float[] SafetensorsValues(string path, string name)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        var header = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(bytes, 8, headerLength))!;
        var offsets = header[name]!["data_offsets"]!.AsArray().Select(o => o!.GetValue<long>()).ToArray();
        var start = 8 + headerLength + (int)offsets[0];
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(start, (int)(offsets[1] - offsets[0]))).ToArray();
    }
}
