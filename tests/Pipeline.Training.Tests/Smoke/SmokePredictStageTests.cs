using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Export;
using Pipeline.Training.Models;
using Pipeline.Training.Smoke;
using Pipeline.Training.Tests.TestSupport;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Pipeline.Training.Tests.Smoke;

[Collection(TorchRandomCollection.Name)]
public sealed class SmokePredictStageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private DatasetPipeline Exported(string smoke = "")
    {
        var name = ShapesDataset.Write(_dir, train: 30, test: 30, sections: smoke);
        var pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        FixedModel.WriteTrained(pipeline);
        pipeline.Engine.Run(pipeline.Stage("evaluate"));
        pipeline.Engine.Run(pipeline.Stage("export"));
        return pipeline;
    }

    [Fact]
    public void A_sound_export_passes_every_check_and_writes_a_report()
    {
        var pipeline = Exported();

        var outcome = pipeline.Engine.Run(pipeline.Stage("smokepredict"));

        Assert.True(outcome.Ran);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.Equal(1, report["version"]!.GetValue<int>());
        Assert.Equal(30, report["samples"]!.GetValue<int>());
        Assert.Equal(30, report["predictions"]!.AsArray().Count);
        Assert.All(report["checks"]!.AsArray(), c => Assert.True(c!["passed"]!.GetValue<bool>(), c["check"]!.GetValue<string>()));
        Assert.True(report["max_probability_difference"]!.GetValue<double>() <= 1e-4);
        // Every test image was sampled, so the sample's accuracy is the evaluated one exactly.
        Assert.Equal(report["evaluated_accuracy"]!.GetValue<double>(), report["accuracy"]!.GetValue<double>(), 6);
    }

    [Fact]
    public void Weights_that_disagree_with_the_onnx_graph_fail_the_build()
    {
        var pipeline = Exported();
        // A different model's safetensors beside the ONNX graph: what a half-copied or hand-edited export looks like.
        var version = Path.Combine(pipeline.ArtifactsDirectory, ExportStage.Output, "1");
        torch.manual_seed(99);
        using (var other = ModelFactory.Create(FixedModel.Parameters, ShapesDataset.Classes.Length))
        {
            other.save_safetensors(Path.Combine(version, "model.safetensors"));
        }

        var error = Assert.Throws<PipelineException>(() => pipeline.Engine.Run(pipeline.Stage("smokepredict")));

        Assert.Contains("failed", error.Message);
        Assert.Contains("ONNX Runtime agrees with TorchSharp", error.Message);
        Assert.False(File.Exists(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)));
    }

    [Fact]
    public void A_source_image_the_records_skipped_is_left_out_of_the_sample_and_named()
    {
        var log = new List<string>();
        var name = TestDatasets.CsvDataset(_dir, extra: """
            , "records": { "on_bad_image": "skip" },
              "train": { "model": "cnn", "input_size": 16, "channels": 1, "normalization": { "mean": [0.2], "std": [0.35] } }
            """);
        File.WriteAllText(_dir.Combine($"datasets/{name}/images/square_0.jpg"), "not an image");
        var pipeline = DatasetPipeline.Open(_dir.Path, name, log.Add, laterStages: TrainingStages.All);
        pipeline.Run("labels", false);
        pipeline.Run("records", false);
        FixedModel.WriteTrained(pipeline, classes: TestDatasets.ClassNames);
        pipeline.Engine.Run(pipeline.Stage("evaluate"));
        pipeline.Engine.Run(pipeline.Stage("export"));

        pipeline.Engine.Run(pipeline.Stage("smokepredict"));

        Assert.Contains(log, l => l.Contains("left out of the sample (on_bad_image: skip)") && l.Contains("eval_set.csv:2"));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, SmokePredictStage.Output, SmokePredictStage.ReportName)))!;
        Assert.Equal(2, report["samples"]!.GetValue<int>());
    }

    [Fact]
    public void A_sample_accuracy_outside_the_tolerance_fails_the_build()
    {
        // Two images can only score 0, 0.5 or 1; with no tolerance they must match the evaluated accuracy exactly.
        var pipeline = Exported("""
            "smoke": { "samples": 2, "accuracy_tolerance": 0 },
            """);
        var evaluated = JsonNode.Parse(File.ReadAllText(Path.Combine(pipeline.ArtifactsDirectory, "eval", "metrics.json")))!["accuracy"]!.GetValue<double>();
        Assert.True(evaluated is not (0 or 0.5 or 1), $"the fixed model's accuracy {evaluated} must differ from any two-image score for this test");

        var error = Assert.Throws<PipelineException>(() => pipeline.Engine.Run(pipeline.Stage("smokepredict")));

        Assert.Contains("sample accuracy near the evaluated one", error.Message);
    }
}
