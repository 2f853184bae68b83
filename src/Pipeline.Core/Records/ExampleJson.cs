using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Pipeline.Core.Engine;
using Pipeline.Core.Records.Proto;

namespace Pipeline.Core.Records;

/// <summary>One tf.train.Example as a line of JSON, for `pipeline inspect`.</summary>
/// <remarks>
/// Text values (labels, formats, file names) print as strings; binary values print as their length and a sha256
/// prefix unless full bytes are asked for, so a shard can be skimmed in a terminal.
/// </remarks>
public static class ExampleJson
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    public static string Format(TfRecord record, string path, bool fullBytes)
    {
        Example example;
        try
        {
            example = Example.Parser.ParseFrom(record.Data.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new PipelineException($"record at byte {record.Offset} is not a tf.train.Example: {e.Message}", path, e);
        }

        var features = new JsonObject();
        foreach (var (key, feature) in (example.Features?.Feature ?? []).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            features[key] = feature.KindCase switch
            {
                Feature.KindOneofCase.Int64List => new JsonArray([.. feature.Int64List.Value.Select(v => JsonValue.Create(v))]),
                Feature.KindOneofCase.FloatList => new JsonArray([.. feature.FloatList.Value.Select(Float)]),
                Feature.KindOneofCase.BytesList => new JsonArray([.. feature.BytesList.Value.Select(v => Bytes(v, fullBytes))]),
                _ => new JsonArray(),
            };
        }
        return new JsonObject { ["offset"] = record.Offset, ["features"] = features }.ToJsonString(new JsonSerializerOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }

    /// <summary>JSON has no NaN or infinity; those print as strings so one odd value does not stop the listing.</summary>
    private static JsonNode Float(float value) =>
        float.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static JsonNode Bytes(ByteString value, bool full)
    {
        if (TryText(value.Span, out var text))
        {
            return JsonValue.Create(text);
        }
        if (full)
        {
            return new JsonObject { ["base64"] = value.ToBase64() };
        }
        var sha = Convert.ToHexStringLower(SHA256.HashData(value.Span))[..16];
        return new JsonObject { ["length"] = value.Length, ["sha256"] = sha };
    }

    private static bool TryText(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        if (bytes.Length > 256)
        {
            return false;
        }
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        return !text.Any(c => char.IsControl(c) && c is not '\t');
    }
}
