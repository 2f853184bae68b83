using Pipeline.Core.Build;
using Pipeline.Training;

namespace Pipeline.Cli.Composition;

/// <summary>
/// The composition root: a dataset's whole chain of stages, from every assembly. The pipeline command and
/// build.cake (which loads this assembly) both open datasets through here, so they always agree on the stages.
/// </summary>
public static class Chain
{
    /// <summary>Every stage a chain can have, in build order, as build targets spell them ("Labels" … "SmokePredict").</summary>
    public static IReadOnlyList<string> Targets { get; } = [.. DatasetPipeline.FirstStages.Concat(TrainingStages.Names).Select(DatasetPipeline.Title)];

    public static DatasetPipeline Open(string repositoryRoot, string dataset, Action<string> log, string? artifactsRoot = null, string? cache = null,
        Core.Records.RecordsShare? part = null, IReadOnlyList<Core.Datasets.DatasetOverride>? overrides = null) =>
        DatasetPipeline.Open(repositoryRoot, dataset, log, artifactsRoot, TrainingStages.All, cache, part, overrides);
}
