using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Core.Engine;

namespace Pipeline.Serving.Versions;

/// <summary>
/// The version labels file: aliases such as "stable" and "canary" for version numbers, as TF Serving's model config sets
/// them, in JSON: <c>{"stable": 3, "canary": 4}</c>. A client asks for /v1/models/NAME/labels/stable and the label
/// moves by editing the file; the server re-reads it without a restart.
/// </summary>
public static partial class VersionLabels
{
    /// <summary>Reads and checks the file.</summary>
    /// <exception cref="PipelineException">Unreadable, not such an object, or a label or version that is not valid; the message names it.</exception>
    public static IReadOnlyDictionary<string, int> Read(string path)
    {
        ReadOnlyMemory<byte> bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read the version labels: {e.Message}", path, e);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            var at = JsonErrors.Position(bytes.Span, e) is { } position ? $":{position.Line}" : "";
            throw new PipelineException($"malformed JSON: {JsonErrors.WithoutPosition(e.Message)}", path + at, e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new PipelineException("the version labels are a JSON object of label to version number: {\"stable\": 3, \"canary\": 4}", path);
            }
            var labels = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var label in document.RootElement.EnumerateObject())
            {
                if (!Name().IsMatch(label.Name))
                {
                    throw new PipelineException($"label \"{label.Name}\" is not a label name: letters, digits, '-' and '_', starting with a letter", path);
                }
                if (label.Value.ValueKind != JsonValueKind.Number || !label.Value.TryGetInt32(out var version) || version < 1)
                {
                    throw new PipelineException($"label \"{label.Name}\" names {label.Value.GetRawText()}, not a version number (1, 2, …)", path);
                }
                if (!labels.TryAdd(label.Name, version))
                {
                    throw new PipelineException($"label \"{label.Name}\" is given twice", path);
                }
            }
            return labels;
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    private static partial Regex Name();
}
