using System.Text.Json.Nodes;

namespace Pipeline.Core.Datasets;

/// <summary>The parts of a source definition that change what its examples mean (not where its files are).</summary>
public static class SourceParameters
{
    public static JsonObject Of(SourceDefinition source) => source switch
    {
        IdxSourceDefinition idx => new JsonObject
        {
            ["kind"] = "idx",
            ["class_names"] = new JsonArray([.. idx.ClassNames.Select(n => JsonValue.Create(n))]),
        },
        CsvSourceDefinition => new JsonObject { ["kind"] = "csv" },
        FoldersSourceDefinition folders => new JsonObject
        {
            ["kind"] = "folders",
            ["validation_percent"] = folders.ValidationPercent,
            ["test_percent"] = folders.TestPercent,
            ["extensions"] = new JsonArray([.. folders.Extensions.Select(e => JsonValue.Create(e.ToLowerInvariant()))]),
        },
        _ => throw new NotSupportedException(source.GetType().Name),
    };
}
