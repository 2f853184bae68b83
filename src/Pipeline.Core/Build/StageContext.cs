using Pipeline.Core.Datasets;

namespace Pipeline.Core.Build;

/// <summary>What a stage is built from: the dataset, its source, where its artifacts live, and where to report.</summary>
public sealed record StageContext(DatasetDefinition Dataset, IDatasetSource Source, string ArtifactsDirectory, Action<string> Log);

/// <summary>Makes one stage of a dataset's chain.</summary>
public delegate Pipeline.Core.Engine.IStage StageFactory(StageContext context);
