using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;
using Pipeline.Training.Distributed;
using Pipeline.Training.Input;
using Pipeline.Training.Models;

namespace Pipeline.Training.Train;

/// <summary>The body of the Train stage, kept apart from <see cref="TrainStage"/> so only running it loads TorchSharp.</summary>
internal static class TrainRunner
{
    public static void Run(StageContext context, StageRun run, string recordsFolder, string labelsPath)
    {
        var job = Prepare(context, run, recordsFolder, labelsPath);
        var distributed = job.Train.Distributed;
        if (LaunchedJob.Job is { } launched && distributed.Launcher != "none")
        {
            throw new PipelineException(distributed.Processes == 1
                ? $"the build runs as the {launched.Size} ranks of an MPI job, but this dataset trains in one process (train.distributed.processes is 1): start the build alone"
                : $"the build runs as the {launched.Size} ranks of an MPI job, but train.distributed.launcher is \"{distributed.Launcher}\", which would start ranks of its own: "
                    + "set it to \"none\" (--set train.distributed.launcher=none), or start the build alone");
        }
        if (distributed.Processes == 1)
        {
            Execute(job, parallel: null, run.Log, run.Cancellation);
            return;
        }
        if (distributed.Launcher == "none")
        {
            LaunchedJob.RunAsLead(job, run);
        }
        else
        {
            RankLauncher.Run(job, Path.GetFullPath(Path.Combine(context.ArtifactsDirectory, TrainStage.JobFileName)), run);
        }
        if (!File.Exists(Path.Combine(job.OutputFolder, TrainedModel.WeightsName)))
        {
            throw new PipelineException($"the {distributed.Processes} training processes ended without rank 0 writing {TrainedModel.WeightsName}", job.OutputFolder);
        }
    }

    /// <summary>The training the stage runs, decided once, in the stage's process: every parameter was checked when dataset.json was loaded (DatasetLoader).</summary>
    private static TrainJob Prepare(StageContext context, StageRun run, string recordsFolder, string labelsPath)
    {
        var train = context.Dataset.Train;
        var labels = LabelSet.Read(labelsPath);
        var records = RecordsManifest.Read(recordsFolder);
        var heldOut = records.HeldOutSplit(train.EvalSplit);
        var trainShards = records.ShardPaths("train");
        var examples = RecordCounter.Count(trainShards).Sum();
        var stepsPerEpoch = examples / train.BatchSize;
        if (stepsPerEpoch == 0)
        {
            throw new PipelineException($"the train split has {examples} examples, fewer than one batch of {train.BatchSize}; lower train.batch_size");
        }
        if (train.Epochs is { } epochs)
        {
            train = train with { TrainSteps = epochs * stepsPerEpoch };
        }
        var heldOutShards = records.ShardPaths(heldOut);
        var heldOutExamples = RecordCounter.Count(heldOutShards).Sum();
        var processes = train.Distributed.Processes;
        var share = processes == 1 ? "" : $", {processes} processes taking {train.BatchSize / processes} of each batch of {train.BatchSize}";
        run.Log($"  {train.Model} on {examples} train examples ({stepsPerEpoch} steps an epoch){share}, evaluating on all {heldOutExamples} {heldOut} examples every {train.StepsPerEval} steps");
        return new TrainJob(
            train,
            ModelFactory.InputChannels(train),
            labels.Labels,
            trainShards,
            heldOut,
            heldOutShards,
            Path.GetFullPath(Path.Combine(context.ArtifactsDirectory, TrainStage.CheckpointsFolder)),
            Path.GetFullPath(Path.Combine(context.ArtifactsDirectory, "tensorboard", run.ResumeKey[..12])),
            run.ResumeKey,
            run.Forced,
            Path.GetFullPath(run.PathOf(TrainStage.Output)));
    }

    /// <summary>
    /// Trains <paramref name="job"/> in this process: alone (<paramref name="parallel"/> null) or as one rank of a
    /// data-parallel job. Only the lead (rank 0, or a lone process) logs, writes checkpoints and TensorBoard events,
    /// and writes the trained model into the job's output folder.
    /// </summary>
    public static void Execute(TrainJob job, DataParallel? parallel, Action<string> log, CancellationToken cancellation)
    {
        var train = job.Train;
        var lead = parallel?.IsLead ?? true;
        var input = InputSpec.From(train) with { Channels = job.Channels };
        // Decoding is cheap next to the model's math; one worker leaves the cores to libtorch's threads.
        var options = PipelineOptions.From(train, workers: 1);
        var trainData = new RecordPipeline(job.TrainShards, input, options);
        var evalData = new RecordPipeline(job.HeldOutShards, input, options with { Augment = null });
        var quiet = lead ? log : _ => { };
        var checkpoints = new CheckpointStore(job.CheckpointsFolder, train.KeepCheckpoints, quiet);
        var trainingLog = lead
            // A rank's output goes through its launcher (a pipe, or a pseudo-terminal that is not the user's): plain lines.
            ? new TrainingLog(parallel is null ? ProgressReporter.ForConsole(log) : new ProgressReporter(Console.Out, log, live: false), job.TensorboardFolder)
            : new TrainingLog(new ProgressReporter(TextWriter.Null, _ => { }, live: false), tensorboardDirectory: null);
        var result = new Trainer(train, job.Labels.Count, trainData, evalData, checkpoints, job.ResumeKey, trainingLog)
        {
            FromScratch = job.Forced,
            Parallel = parallel,
        }.Run(cancellation);

        if (lead)
        {
            TrainedModel.From(train, job.Channels, job.Labels, job.ResumeKey)
                .Write(job.OutputFolder, Trainer.ModelBytes(result.Model), result.History);
            if (parallel is not null && result.Steps > 0)
            {
                // Per step on rank 0: the whole step (its share's forward and backward, the allreduce, the update), and the allreduce in it.
                var step = result.Stepping.TotalMilliseconds / result.Steps;
                var exchange = parallel.Exchanging.TotalMilliseconds / result.Steps;
                log(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"  {parallel.Size} processes: {parallel.BytesPerStep:N0} bytes of gradients allreduced a step; a step took {step:F1} ms on rank 0, {exchange:F1} ms of it in allreduce ({100 * exchange / step:F1}%)"));
            }
            log($"  peak memory {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MB");
        }
        result.Model.Dispose();
    }
}
