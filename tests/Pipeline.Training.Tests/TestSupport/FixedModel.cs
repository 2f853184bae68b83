using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Training.Models;
using Pipeline.Training.Train;
using TorchSharp;

namespace Pipeline.Training.Tests.TestSupport;

/// <summary>
/// A model without training: a cnn's seeded initial weights, written where the Train stage puts its output, so
/// Evaluate, Export and SmokePredict can be tested in seconds. Callers run in <see cref="TorchRandomCollection"/>.
/// </summary>
internal static class FixedModel
{
    public static readonly TrainParameters Parameters = new()
    {
        Model = "cnn", InputSize = 16, Channels = 1, Normalization = new() { Mean = [0.2], Std = [0.35] },
    };

    public static void WriteTrained(DatasetPipeline pipeline, int seed = 7, string[]? classes = null)
    {
        classes ??= ShapesDataset.Classes;
        torch.manual_seed(seed);
        using var model = ModelFactory.Create(Parameters, classes.Length);
        TrainedModel.From(Parameters, 1, classes, $"fixed-{seed}")
            .Write(Path.Combine(pipeline.ArtifactsDirectory, TrainStage.Output), Trainer.ModelBytes(model), []);
    }
}
