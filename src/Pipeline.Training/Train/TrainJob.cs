using System.Text.Json;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;

namespace Pipeline.Training.Train;

/// <summary>
/// A Train stage's training, whole: what every process of it needs, with every path absolute. The stage makes it; a
/// training of one process runs it in the stage's process, and a distributed one writes it to a file each rank reads
/// (`pipeline train-rank --job FILE`), so the ranks train exactly what the stage decided, --set values included.
/// </summary>
/// <param name="Train">The train section, with train_steps resolved from epochs.</param>
/// <param name="OutputFolder">Where the lead (rank 0) writes model.bin, model.json and history.json: the stage's staging folder.</param>
public sealed record TrainJob(
    TrainParameters Train,
    int Channels,
    IReadOnlyList<string> Labels,
    IReadOnlyList<string> TrainShards,
    string HeldOutSplit,
    IReadOnlyList<string> HeldOutShards,
    string CheckpointsFolder,
    string TensorboardFolder,
    string ResumeKey,
    bool Forced,
    string OutputFolder)
{
    /// <summary>Trains this job in this process: alone, or as the rank <paramref name="parallel"/> says (see TrainRunner.Execute).</summary>
    public void Run(Distributed.DataParallel? parallel, Action<string> log, CancellationToken cancellation) => TrainRunner.Execute(this, parallel, log, cancellation);

    public string ToJson() => JsonSerializer.Serialize(this, DatasetLoader.Options);

    public void Write(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <exception cref="PipelineException">The file is missing or is not a job.</exception>
    public static TrainJob Read(string path)
    {
        try
        {
            return FromJson(File.ReadAllText(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read the training job: {e.Message}", path);
        }
    }

    /// <exception cref="PipelineException">The text is not a job; <paramref name="source"/> names where it came from.</exception>
    public static TrainJob FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainJob>(json, DatasetLoader.Options) ?? throw new PipelineException("the training job is empty", source);
        }
        catch (JsonException e)
        {
            throw new PipelineException($"not a training job: {e.Message}", source);
        }
    }
}
