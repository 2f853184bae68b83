namespace Pipeline.Core.Datasets;

/// <summary>Makes the source reader for a dataset definition's kind.</summary>
public static class DatasetSources
{
    public static IDatasetSource Create(DatasetDefinition dataset, DownloadCache downloads) => dataset.Source switch
    {
        IdxSourceDefinition idx => new IdxSource(dataset, idx),
        CsvSourceDefinition csv => new CsvSource(dataset, csv, downloads),
        FoldersSourceDefinition folders => new FoldersSource(dataset, folders),
        _ => throw new NotSupportedException(dataset.Source.GetType().Name),
    };
}
