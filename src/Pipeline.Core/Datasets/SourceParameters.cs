using System.Text.Json.Nodes;

namespace Pipeline.Core.Datasets;

/// <summary>The parts of a source definition that change what its examples mean (not where its files are).</summary>
public static class SourceParameters
{
    public static JsonObject Of(SourceDefinition source) => source switch
    {
        IdxSourceDefinition idx => Idx(idx),
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

    private static JsonObject Idx(IdxSourceDefinition idx)
    {
        var json = new JsonObject
        {
            ["kind"] = "idx",
            ["class_names"] = new JsonArray([.. idx.ClassNames.Select(n => JsonValue.Create(n))]),
        };
        var subsets = idx.Splits.Where(s => s.Value.PerClass is not null || s.Value.SkipPerClass != 0).OrderBy(s => s.Key, StringComparer.Ordinal).ToList();
        // Named only where a split takes a subset, so whole-file definitions keep the parameters (and fingerprints) they had.
        if (subsets.Count > 0)
        {
            json["subsets"] = new JsonObject(subsets.Select(s =>
                KeyValuePair.Create(s.Key, (JsonNode?)new JsonObject { ["per_class"] = s.Value.PerClass, ["skip_per_class"] = s.Value.SkipPerClass })));
        }
        return json;
    }
}
