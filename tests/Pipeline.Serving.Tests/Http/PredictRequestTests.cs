using System.Text;
using Pipeline.Serving.Http;

namespace Pipeline.Serving.Tests.Http;

public sealed class PredictRequestTests
{
    private const int MaxInstances = 4;
    private const long MaxImageBytes = 1024;

    /// <summary>Bytes whose standard base64 ("+/v+/7/+") uses both characters the URL-safe alphabet replaces.</summary>
    private static readonly byte[] Awkward = [0xFB, 0xFF, 0xFE, 0xFF, 0xBF, 0xFE];

    [Fact]
    public void Image_bytes_instances_give_their_decoded_bytes_in_order()
    {
        byte[] first = [1, 2, 3], second = [4, 5, 6, 7];

        var images = Parse($$$"""{"instances": [{"image_bytes": {"b64": "{{{B64(first)}}}"}}, {"image_bytes": {"b64": "{{{B64(second)}}}"}}]}""");

        Assert.Equal([first, second], images);
    }

    [Fact]
    public void Bare_b64_instances_give_the_same_bytes_as_image_bytes_instances()
    {
        byte[] first = [1, 2, 3], second = [4, 5, 6, 7];

        var images = Parse($$$"""{"instances": [{"b64": "{{{B64(first)}}}"}, {"image_bytes": {"b64": "{{{B64(second)}}}"}}]}""");

        Assert.Equal([first, second], images);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(5)]
    [InlineData(4)]
    public void Url_safe_and_unpadded_base64_give_the_same_bytes_as_standard_base64(int length)
    {
        var bytes = Awkward[..length];
        var standard = Convert.ToBase64String(bytes);
        var urlSafe = standard.Replace('+', '-').Replace('/', '_');
        var unpadded = urlSafe.TrimEnd('=');
        Assert.NotEqual(standard, urlSafe);

        var images = Parse($$"""{"instances": [{"b64": "{{standard}}"}, {"b64": "{{urlSafe}}"}, {"b64": "{{unpadded}}"}, {"b64": "{{standard.TrimEnd('=')}}"}]}""");

        Assert.All(images, image => Assert.Equal(bytes, image));
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { """{"instances": [""", "malformed JSON" },
        { "", "malformed JSON" },
        { "\u0089PNG", "malformed JSON" },
        { new string('[', 40) + new string(']', 40), "malformed JSON" },
        { """[{"b64": "AAAA"}]""", "the body is a JSON array; send an object" },
        { "\"AAAA\"", "the body is a JSON string; send an object" },
        { """{"images": [{"b64": "AAAA"}]}""", "missing field \"instances\"" },
        { """{"instances": {"b64": "AAAA"}}""", "\"instances\" is a JSON object; it must be a list" },
        { """{"instances": null}""", "\"instances\" is a JSON null; it must be a list" },
        { """{"instances": []}""", "\"instances\" is empty" },
        { """{"instances": [{"b64": "AAAA"}, {"b64": "AAAA"}, {"b64": "AAAA"}, {"b64": "AAAA"}, {"b64": "AAAA"}]}""", "too many instances: 5; at most 4 per request" },
        { """{"instances": [{"b64": "AAAA"}, {"image": "AAAA"}]}""", "instances[1] has no image" },
        { """{"instances": ["AAAA"]}""", "instances[0] has no image" },
        { """{"instances": [{"image_bytes": "AAAA"}]}""", "instances[0].image_bytes must be {\"b64\": " },
        { """{"instances": [{"image_bytes": {"data": "AAAA"}}]}""", "instances[0].image_bytes must be {\"b64\": " },
        { """{"instances": [{"b64": 12}]}""", "instances[0].b64 is a JSON number; it must be a base64 string" },
        { """{"instances": [{"image_bytes": {"b64": ["AAAA"]}}]}""", "instances[0].image_bytes.b64 is a JSON array; it must be a base64 string" },
        { """{"instances": [{"b64": ""}]}""", "instances[0].b64 is empty" },
        { """{"instances": [{"b64": "AAAA"}, {"image_bytes": {"b64": ""}}]}""", "instances[1].image_bytes.b64 is empty" },
        { """{"instances": [{"b64": "AAAA"}, {"b64": "not base64!"}]}""", "instances[1].b64 is not valid base64" },
        { """{"instances": [{"image_bytes": {"b64": "QUJDR"}}]}""", "instances[0].image_bytes.b64 is not valid base64" },
        { """{"instances": [{"b64": "data:image/png;base64,AAAA"}]}""", "instances[0].b64 is not valid base64" },
        { $$$"""{"instances": [{"image_bytes": {"b64": "{{{new string('A', 1368)}}}"}}]}""", "instances[0].image_bytes.b64: the image is about 1,026 bytes, more than the 1,024 allowed per image" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Bad_request_is_refused_with_a_400_whose_message_names_the_field(string body, string expected)
    {
        var error = Assert.Throws<BadRequestException>(() => Parse(body));

        Assert.Equal(400, error.Status);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"instances\": [{\"b64\": tru}]}", 1, 27, "'tru}]}' is an invalid JSON literal")]
    [InlineData("{\n  \"instances\": [\n    {\"b64\": \"AAAA\"},\n    {\"b64\": \"AAAA\"}\n  ]\n  }\n}", 7, 1, "'}' is invalid after a single JSON value")]
    [InlineData("{\"étiquette\": \"ü\", \"instances\": x}", 1, 33, "'x' is an invalid start of a value")]
    [InlineData("{\r\n\"instances\": [\r\n{\"b64\" \"AAAA\"}]}", 3, 8, "'\"' is invalid after a property name")]
    public void Malformed_json_is_refused_naming_its_line_and_column_counted_from_1(string body, int line, int column, string reason)
    {
        var error = Assert.Throws<BadRequestException>(() => Parse(body));

        Assert.Equal(400, error.Status);
        Assert.StartsWith($"malformed JSON at line {line}, column {column}: {reason}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("BytePositionInLine", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_of_exactly_the_allowed_size_is_accepted()
    {
        var bytes = new byte[MaxImageBytes];

        Assert.Equal(bytes, Assert.Single(Parse($$"""{"instances": [{"b64": "{{B64(bytes)}}"}]}""")));
    }

    [Fact]
    public void Exactly_the_allowed_number_of_instances_is_accepted()
    {
        var instances = string.Join(", ", Enumerable.Range(1, MaxInstances).Select(i => $$"""{"b64": "{{B64([(byte)i])}}"}"""));

        var images = Parse($$"""{"instances": [{{instances}}]}""");

        Assert.Equal(Enumerable.Range(1, MaxInstances).Select(i => new[] { (byte)i }), images);
    }

    [Fact]
    public void Invalid_utf8_in_the_base64_string_is_refused_naming_the_field()
    {
        var body = Encoding.UTF8.GetBytes("""{"instances": [{"b64": "AA"}]}""");
        body[Array.IndexOf(body, (byte)'A')] = 0xC3; // a lead byte followed by 'A', not a continuation byte

        var error = Assert.Throws<BadRequestException>(() => PredictRequest.Parse(body, MaxInstances, MaxImageBytes));

        Assert.Equal(400, error.Status);
        Assert.Contains("instances[0].b64 is not valid UTF-8", error.Message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<byte[]> Parse(string body) => PredictRequest.Parse(Encoding.UTF8.GetBytes(body), MaxInstances, MaxImageBytes);

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes);
}
