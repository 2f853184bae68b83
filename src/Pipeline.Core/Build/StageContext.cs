using Pipeline.Core.Datasets;

namespace Pipeline.Core.Build;

/// <summary>What a stage is built from: the dataset, its source, where its artifacts live, and where to report.</summary>
/// <param name="Downloads">Where remote source images are fetched through (and cached).</param>
public sealed record StageContext(DatasetDefinition Dataset, IDatasetSource Source, string ArtifactsDirectory, Action<string> Log, DownloadCache Downloads);

/// <summary>Makes one stage of a dataset's chain, or null where the dataset has no such stage (Bottlenecks without transfer).</summary>
public delegate Pipeline.Core.Engine.IStage? StageFactory(StageContext context);
