using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Prediction;
using Pipeline.Training.Export;
using Pipeline.Training.Tests.TestSupport;
using Snapshooter.Xunit;

namespace Pipeline.Training.Tests.Export;

[Collection(TorchRandomCollection.Name)]
public sealed class ExportStageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private DatasetPipeline Evaluated(double minAccuracy, int seed = 7)
    {
        var name = ShapesDataset.Write(_dir, train: 30, test: 30, sections: $$"""
            "export": { "min_accuracy": {{minAccuracy.ToString(System.Globalization.CultureInfo.InvariantCulture)}} },
            """);
        var pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        FixedModel.WriteTrained(pipeline, seed);
        pipeline.Engine.Run(pipeline.Stage("evaluate"));
        return pipeline;
    }

    private static string ExportFolder(DatasetPipeline pipeline) => Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output);

    [Fact]
    public void Accuracy_below_the_gate_fails_and_exports_nothing()
    {
        var pipeline = Evaluated(minAccuracy: 0.99);

        var error = Assert.Throws<PipelineException>(() => pipeline.Engine.Run(pipeline.Stage("export")));

        Assert.Contains("is below export.min_accuracy 0.99: the model is not exported", error.Message);
        Assert.Contains("metrics.json", error.Message);
        Assert.False(Directory.Exists(ExportFolder(pipeline)));
    }

    [Fact]
    public void Accuracy_at_or_above_the_gate_exports_version_1_that_serving_loads_without_training_code()
    {
        var pipeline = Evaluated(minAccuracy: 0);

        pipeline.Engine.Run(pipeline.Stage("export"));

        var folder = ExportFolder(pipeline);
        Assert.Equal("1\n", File.ReadAllText(Path.Combine(folder, ExportedModel.LatestPointer)));
        Assert.Equal(["labels.txt", "model.json", "model.onnx", "model.safetensors"],
            Directory.GetFiles(Path.Combine(folder, "1")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var exported = ExportedModel.Open(folder);
        Assert.Equal(1, exported.Version);
        Assert.Equal(ShapesDataset.Classes, exported.Card.Classes);
        Assert.Equal("cnn", exported.Card.Architecture);
        Assert.NotNull(exported.Card.Lineage["records"]);
        Assert.NotNull(exported.Card.Lineage["checkpoint"]);
        using var classifier = OnnxClassifier.Load(exported);
        Assert.Equal(3, classifier.Probabilities(new float[16 * 16], 1).Length);
    }

    [Fact]
    public void Model_card_matches_the_committed_snapshot()
    {
        var pipeline = Evaluated(minAccuracy: 0);
        pipeline.Engine.Run(pipeline.Stage("export"));

        var card = File.ReadAllText(Path.Combine(ExportFolder(pipeline), "1", ModelCard.FileName));

        // Fingerprints depend on the temporary paths' content only, but the lineage is checked above; keep the card's shape here.
        Snapshot.Match(card, options => options.IgnoreField("lineage"));
    }

    [Fact]
    public void Identical_content_keeps_its_version_and_new_weights_add_the_next_one()
    {
        var pipeline = Evaluated(minAccuracy: 0);
        pipeline.Engine.Run(pipeline.Stage("export"));
        var folder = ExportFolder(pipeline);
        var first = File.ReadAllBytes(Path.Combine(folder, "1", ModelCard.OnnxFile));

        pipeline.Engine.Run(pipeline.Stage("export"), force: true);
        Assert.Equal([1], ExportedModel.Versions(folder));

        FixedModel.WriteTrained(pipeline, seed: 8);
        pipeline.Engine.Run(pipeline.Stage("evaluate"));
        pipeline.Engine.Run(pipeline.Stage("export"));

        Assert.Equal([1, 2], ExportedModel.Versions(folder));
        Assert.Equal(2, ExportedModel.Latest(folder));
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(folder, "1", ModelCard.OnnxFile)));
        Assert.NotEqual(first, File.ReadAllBytes(Path.Combine(folder, "2", ModelCard.OnnxFile)));
        Assert.Equal(2, ExportedModel.Open(folder).Version);
    }

    [Fact]
    public void Damaged_export_of_the_same_model_is_restored_in_its_own_version_and_never_recorded_as_good()
    {
        var pipeline = Evaluated(minAccuracy: 0);
        pipeline.Engine.Run(pipeline.Stage("export"));
        var folder = ExportFolder(pipeline);
        var onnx = Path.Combine(folder, "1", ModelCard.OnnxFile);
        var intact = File.ReadAllBytes(onnx);
        using (var file = new FileStream(onnx, FileMode.Open))
        {
            file.SetLength(1000);
        }
        Assert.Contains("output export/1/model.onnx modified since it was built", pipeline.Engine.Check(pipeline.Stage("export")).Reasons);

        pipeline.Engine.Run(pipeline.Stage("export"));

        Assert.Equal([1], ExportedModel.Versions(folder));
        Assert.Equal(intact, File.ReadAllBytes(onnx));
        Assert.Equal(ContentHash.OfBytes(intact), LockFile.Load(pipeline.Engine.LockPath).Find("export")!.Outputs["export/1/model.onnx"]);
        Assert.True(pipeline.Engine.Check(pipeline.Stage("export")).IsFresh);
        using var classifier = OnnxClassifier.Load(ExportedModel.Open(folder));
    }

    [Fact]
    public void Damaged_older_version_that_the_current_model_cannot_rebuild_stops_the_export_naming_it()
    {
        var pipeline = Evaluated(minAccuracy: 0);
        pipeline.Engine.Run(pipeline.Stage("export"));
        var folder = ExportFolder(pipeline);
        File.WriteAllText(Path.Combine(folder, "1", ModelCard.LabelsFile), "edited\n");
        FixedModel.WriteTrained(pipeline, seed: 8);
        pipeline.Engine.Run(pipeline.Stage("evaluate"));
        var lockBefore = File.ReadAllBytes(pipeline.Engine.LockPath);

        var error = Assert.Throws<PipelineException>(() => pipeline.Engine.Run(pipeline.Stage("export")));

        Assert.Contains("export/1/labels.txt", error.Message);
        Assert.Contains("delete export/1", error.Message);
        Assert.Equal([1], ExportedModel.Versions(folder));
        Assert.Equal(lockBefore, File.ReadAllBytes(pipeline.Engine.LockPath));
    }

    [Fact]
    public void Content_equal_to_an_older_version_is_published_as_the_next_and_says_so()
    {
        var log = new List<string>();
        var name = ShapesDataset.Write(_dir, train: 30, test: 30);
        var pipeline = DatasetPipeline.Open(_dir.Path, name, log.Add, laterStages: TrainingStages.All);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        foreach (var seed in new[] { 7, 8, 7 })
        {
            FixedModel.WriteTrained(pipeline, seed);
            pipeline.Engine.Run(pipeline.Stage("evaluate"));
            pipeline.Engine.Run(pipeline.Stage("export"));
        }

        Assert.Equal([1, 2, 3], ExportedModel.Versions(ExportFolder(pipeline)));
        Assert.Contains(log, l => l.Contains("the exported content is that of version 1 again; it is published as version 3"));
    }

    [Fact]
    public void Predictions_of_the_exported_fixed_model_match_the_committed_snapshot()
    {
        var pipeline = Evaluated(minAccuracy: 0);
        pipeline.Engine.Run(pipeline.Stage("export"));
        using var classifier = OnnxClassifier.Load(ExportedModel.Open(ExportFolder(pipeline)));

        var images = Enumerable.Range(0, 3).Select(i => (ReadOnlyMemory<byte>)ShapesDataset.Png(i)).ToList();
        var predictions = classifier.Predict(images, ["diagonal.png", "horizontal.png", "vertical.png"]);

        Snapshot.Match(string.Join("\n", predictions.SelectMany((p, i) => p.ScoreLines(classifier.Card.Classes, 3).Prepend($"image {i}"))));
    }
}
