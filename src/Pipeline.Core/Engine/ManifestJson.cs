using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Core.Engine;

/// <summary>
/// The JSON files one stage writes for another to read (records/manifest.json, train/model.json, …): each is one
/// record type, written canonically (sorted keys, so equal manifests are equal bytes) and read strictly: a missing
/// key, a null or a value of the wrong kind is an error naming the file and the key, never a half-read manifest.
/// </summary>
public static class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <summary>The manifest as canonical, indented JSON text ending in a newline.</summary>
    public static string Text<T>(T manifest) => CanonicalJson.Serialize(JsonSerializer.SerializeToNode(manifest, Options), indented: true);

    public static void Write<T>(string path, T manifest) => File.WriteAllText(path, Text(manifest));

    /// <param name="what">What the file is, for the message: "the records manifest".</param>
    /// <param name="remedy">What to do about a bad file: "rebuild Records with --target=Records --force".</param>
    /// <exception cref="PipelineException">Missing, unreadable, or not of this shape.</exception>
    public static T Read<T>(string path, string what, string remedy)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), Options) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            var key = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path.TrimStart('$', '.')}";
            throw new PipelineException($"cannot read {what}{key}: {JsonErrors.WithoutPosition(e.Message).TrimEnd('.')}; {remedy}", path, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read {what} ({e.Message}); {remedy}", path, e);
        }
    }
}
