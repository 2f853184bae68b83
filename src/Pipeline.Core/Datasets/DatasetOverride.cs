using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>
/// One parameter set from the command line instead of dataset.json (<c>--set train.learning_rate.base=0.004</c>): a
/// field path as errors name fields, and a value written as JSON (a bare word is a string: <c>train.model=resnet18</c>).
/// </summary>
/// <param name="Field">"train.learning_rate.base", "records.shards.train", "train.normalization.mean[0]".</param>
/// <param name="Json">The value as compact JSON text.</param>
public sealed partial record DatasetOverride(string Field, string Json)
{
    /// <summary>Fields an override may not set: the name is the artifacts folder, and an experiment builds the same dataset.</summary>
    private static readonly string[] Fixed = ["name", "$schema"];

    /// <summary>The value as the command line shows it: "0.004", "resnet18", "[0.5,0.5]".</summary>
    public string Value => JsonNode.Parse(Json) is JsonValue v && v.TryGetValue<string>(out var text) ? text : Json;

    /// <summary>"train.learning_rate.base=0.004".</summary>
    public override string ToString() => $"{Field}={Value}";

    /// <summary>Reads "FIELD=VALUE"; a value that is not JSON is taken as a string.</summary>
    /// <exception cref="PipelineException">No '=', or the field is not a field path.</exception>
    public static DatasetOverride Parse(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new PipelineException($"--set {text}: expected FIELD=VALUE, as in --set train.learning_rate.base=0.004");
        }
        var field = text[..equals].Trim();
        if (!FieldPath().IsMatch(field))
        {
            throw new PipelineException($"--set {text}: \"{field}\" is not a field path; write the keys of dataset.json joined by dots, as in train.learning_rate.base or records.shards.train");
        }
        if (Fixed.Contains(field, StringComparer.Ordinal))
        {
            throw new PipelineException($"--set {text}: {field} cannot be overridden; an experiment builds the same dataset (copy the folder to make another)");
        }
        var value = text[(equals + 1)..];
        return new DatasetOverride(field, AsJson(value));
    }

    /// <summary>
    /// Reads "FIELD=V1,V2,…" into one override per value (a grid axis); commas inside brackets, braces or quotes do not
    /// split (<c>train.normalization.mean=[0.5,0.4]</c> is one value).
    /// </summary>
    public static IReadOnlyList<DatasetOverride> ParseAxis(string text)
    {
        var first = Parse(text);
        var values = SplitTopLevel(text[(text.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        return values.Count == 1 ? [first] : [.. values.Select(v => first with { Json = AsJson(v) })];
    }

    /// <summary>Every combination of the axes' values, the first axis varying slowest, as a grid runs them.</summary>
    public static IReadOnlyList<IReadOnlyList<DatasetOverride>> Grid(IEnumerable<string> axes)
    {
        IEnumerable<IReadOnlyList<DatasetOverride>> runs = [[]];
        foreach (var axis in axes.Select(ParseAxis))
        {
            runs = runs.SelectMany(run => axis.Select(value => (IReadOnlyList<DatasetOverride>)[.. run, value])).ToList();
        }
        var grid = runs.ToList();
        RequireDistinct(grid[0]);
        return grid;
    }

    /// <summary>
    /// The overrides of one build (`pipeline run`, `./build.sh --set`): each field once, one value each; a comma list
    /// is a grid, which only `pipeline exp run` builds.
    /// </summary>
    public static IReadOnlyList<DatasetOverride> ForOneBuild(IEnumerable<string> texts)
    {
        var overrides = new List<DatasetOverride>();
        foreach (var text in texts)
        {
            var values = ParseAxis(text);
            if (values.Count > 1)
            {
                throw new PipelineException($"--set {text} gives {values.Count} values: a grid of builds runs with `pipeline exp run -S {text}`");
            }
            overrides.Add(values[0]);
        }
        RequireDistinct(overrides);
        return overrides;
    }

    private static void RequireDistinct(IEnumerable<DatasetOverride> overrides)
    {
        if (overrides.GroupBy(o => o.Field, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new PipelineException($"--set {twice.Key} is given twice; give its values once, separated by commas");
        }
    }

    private static string AsJson(string value)
    {
        var trimmed = value.Trim();
        try
        {
            var node = JsonNode.Parse(trimmed);
            return node is null ? "null" : node.ToJsonString();
        }
        catch (JsonException)
        {
            return JsonValue.Create(value).ToJsonString();
        }
    }

    private static List<string> SplitTopLevel(string values)
    {
        var parts = new List<string>();
        var depth = 0;
        var quoted = false;
        var start = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var c = values[i];
            if (quoted)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                continue;
            }
            switch (c)
            {
                case '"':
                    quoted = true;
                    break;
                case '[' or '{':
                    depth++;
                    break;
                case ']' or '}':
                    depth--;
                    break;
                case ',' when depth == 0:
                    parts.Add(values[start..i]);
                    start = i + 1;
                    break;
            }
        }
        parts.Add(values[start..]);
        return parts;
    }

    [GeneratedRegex(@"^[A-Za-z_$][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$")]
    private static partial Regex FieldPath();
}
