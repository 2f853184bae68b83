using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;
using Pipeline.Training.Input;
using Pipeline.Training.Models;

namespace Pipeline.Training.Train;

/// <summary>The body of the Train stage, kept apart from <see cref="TrainStage"/> so only running it loads TorchSharp.</summary>
internal static class TrainRunner
{
    public static void Run(StageContext context, StageRun run, string recordsFolder, string labelsPath)
    {
        // Every parameter was checked when dataset.json was loaded (DatasetLoader).
        var train = context.Dataset.Train;
        var labels = LabelSet.Read(labelsPath);
        var records = RecordsManifest.Read(recordsFolder);
        var heldOut = records.HeldOutSplit(train.EvalSplit);
        var channels = ModelFactory.InputChannels(train);
        var input = InputSpec.From(train) with { Channels = channels };
        // Decoding is cheap next to the model's math; one worker leaves the cores to libtorch's threads.
        var options = PipelineOptions.From(train, workers: 1);
        var trainData = new RecordPipeline(records.ShardPaths("train"), input, options);
        var evalData = new RecordPipeline(records.ShardPaths(heldOut), input, options with { Augment = null });
        if (trainData.StepsPerEpoch == 0)
        {
            throw new PipelineException($"the train split has {trainData.ExampleCount} examples, fewer than one batch of {train.BatchSize}; lower train.batch_size");
        }
        if (train.Epochs is { } epochs)
        {
            train = train with { TrainSteps = epochs * trainData.StepsPerEpoch };
        }

        run.Log($"  {train.Model} on {trainData.ExampleCount} train examples ({trainData.StepsPerEpoch} steps an epoch), evaluating on all {evalData.ExampleCount} {heldOut} examples every {train.StepsPerEval} steps");
        var checkpoints = new CheckpointStore(Path.Combine(context.ArtifactsDirectory, TrainStage.CheckpointsFolder), train.KeepCheckpoints, run.Log);
        var tensorboard = Path.Combine(context.ArtifactsDirectory, "tensorboard", run.ResumeKey[..12]);
        var log = new TrainingLog(ProgressReporter.ForConsole(run.Log), tensorboard);
        var result = new Trainer(train, labels.Count, trainData, evalData, checkpoints, run.ResumeKey, log) { FromScratch = run.Forced }.Run(run.Cancellation);

        TrainedModel.From(train, channels, labels.Labels, run.ResumeKey)
            .Write(run.PathOf(TrainStage.Output), Trainer.ModelBytes(result.Model), result.History);
        result.Model.Dispose();
        run.Log($"  peak memory {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MB");
    }
}
