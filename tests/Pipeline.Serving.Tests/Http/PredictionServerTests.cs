using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Serving.Export;
using Pipeline.Serving.Tests.TestSupport;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Serving.Tests.Http;

public sealed class PredictionServerTests : IClassFixture<ServedModel>
{
    private const string Predict = $"v1/models/{ServedModel.Name}:predict";

    private readonly ServedModel _served;

    public PredictionServerTests(ServedModel served) => _served = served;

    private HttpClient Client => _served.Client;

    [Fact]
    public async Task Predict_answers_each_instance_in_order_with_class_label_and_probabilities()
    {
        var body = new JsonObject
        {
            ["instances"] = new JsonArray(
                ImageBytes(TestImages.Black),
                new JsonObject { ["b64"] = Convert.ToBase64String(TestImages.White) },
                ImageBytes(TestImages.LeftLitPng()),
                ImageBytes(TestImages.RgbJpeg(new Rgb24(250, 250, 250), 12, 12))),
        };

        var (status, json) = await PostAsync(Predict, body.ToJsonString());

        Assert.Equal(HttpStatusCode.OK, status);
        var predictions = json["predictions"]!.AsArray();
        Assert.Equal([TinyExport.Dark, TinyExport.Light, TinyExport.LeftLit, TinyExport.Light], predictions.Select(p => p!["classes"]!.GetValue<int>()));
        Assert.Equal(["dark", "light", "left-lit", "light"], predictions.Select(p => p!["label"]!.GetValue<string>()));
        Assert.All(predictions, p =>
        {
            var probabilities = p!["probabilities"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
            Assert.Equal(TinyExport.Classes.Length, probabilities.Count);
            Assert.Equal(1.0, probabilities.Sum(), 5);
            Assert.True(probabilities[p["classes"]!.GetValue<int>()] > 0.9);
        });
        Assert.Empty(_served.Log);
    }

    [Fact]
    public async Task Model_status_reports_version_1_available()
    {
        var (status, json) = await GetAsync($"v1/models/{ServedModel.Name}");

        Assert.Equal(HttpStatusCode.OK, status);
        var version = Assert.Single(json["model_version_status"]!.AsArray())!;
        Assert.Equal("1", version["version"]!.GetValue<string>());
        Assert.Equal("AVAILABLE", version["state"]!.GetValue<string>());
        Assert.Equal("OK", version["status"]!["error_code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Metadata_returns_the_model_card_and_the_model_spec()
    {
        var (status, json) = await GetAsync($"v1/models/{ServedModel.Name}/metadata");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(ServedModel.Name, json["model_spec"]!["name"]!.GetValue<string>());
        Assert.Equal("1", json["model_spec"]!["version"]!.GetValue<string>());
        var card = json["metadata"]!["model_card"]!;
        Assert.Equal(ModelCard.Format, card["format"]!.GetValue<string>());
        Assert.Equal(TinyExport.Classes, card["classes"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(CanonicalJson.Serialize(TinyExport.Card().ToJson()), CanonicalJson.Serialize(card));
        // TF Serving's signature_def: what a generic client reads to know the inputs and outputs.
        var signature = json["metadata"]!["signature_def"]!["signature_def"]!["serving_default"]!;
        Assert.Equal("tensorflow/serving/predict", signature["method_name"]!.GetValue<string>());
        Assert.Equal("DT_STRING", signature["inputs"]!["image_bytes"]!["dtype"]!.GetValue<string>());
        Assert.Equal("DT_INT64", signature["outputs"]!["classes"]!["dtype"]!.GetValue<string>());
        var probabilities = signature["outputs"]!["probabilities"]!;
        Assert.Equal("DT_FLOAT", probabilities["dtype"]!.GetValue<string>());
        Assert.Equal(["-1", TinyExport.Classes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            probabilities["tensor_shape"]!["dim"]!.AsArray().Select(d => d!["size"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Healthz_answers_ok()
    {
        var (status, json) = await GetAsync("healthz");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", json["status"]!.GetValue<string>());
    }

    public static TheoryData<string, string, string[]> BadRequests => new()
    {
        { "malformed JSON", """{"instances": [{"b64": """, ["malformed JSON"] },
        { "a JSON list, not an object", """[{"b64": "AAAA"}]""", ["the body is a JSON array"] },
        { "no instances field", """{"images": [{"b64": "AAAA"}]}""", ["missing field \"instances\""] },
        { "an instance without an image", """{"instances": [{"b64": "AAAA"}, {"url": "http://example.com/a.png"}]}""", ["instances[1] has no image"] },
        { "invalid base64", """{"instances": [{"image_bytes": {"b64": "***"}}]}""", ["instances[0].image_bytes.b64 is not valid base64"] },
        { "bytes that are not an image", Instances(Encoding.UTF8.GetBytes("plain text, no image")), ["instances[0]", "not an image"] },
        { "an image too large", Instances(TestImages.Black, TestImages.GrayPng(0, 40, 40)), ["instances[1]", "image too large: 40×40 is more than the 1,000 pixels allowed"] },
        { "a JPEG cut short", Instances(TestImages.Black, TestImages.TruncatedJpeg()), ["instances[1]: the image is truncated: the JPEG has no end-of-image marker"] },
        { "a PNG whose image data stops early", Instances(TestImages.White, TestImages.Black, TestImages.PngWithShortImageData()), ["instances[2]: the image is truncated: the PNG's image data holds"] },
        {
            "images over the request's pixel budget",
            Instances(TestImages.GrayPng(0, 30, 30), TestImages.GrayPng(0, 30, 30), TestImages.GrayPng(0, 30, 30)),
            ["instances[2]: with it the request's images hold 2,700 pixels, more than the 2,000 allowed per request"]
        },
        { "too many instances", Instances([.. Enumerable.Repeat(TestImages.Black, ServedModel.MaxInstances + 1)]), ["too many instances: 5; at most 4 per request"] },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_request_is_answered_400_with_an_error_that_says_what_is_wrong(string mistake, string body, string[] expected)
    {
        var (status, json) = await PostAsync(Predict, body);

        Assert.True(status == HttpStatusCode.BadRequest, $"{mistake}: {(int)status} {json}");
        var error = json["error"]!.GetValue<string>();
        Assert.All(expected, part => Assert.Contains(part, error, StringComparison.Ordinal));
        Assert.Empty(_served.Log);
    }

    [Fact]
    public async Task Request_of_exactly_the_pixel_budget_is_predicted()
    {
        var (status, json) = await PostAsync(Predict, Instances(TestImages.GrayPng(255, 40, 25), TestImages.GrayPng(0, 25, 40)));

        Assert.Equal(ServedModel.MaxRequestPixels, 40 * 25 * 2);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([TinyExport.Light, TinyExport.Dark], json["predictions"]!.AsArray().Select(p => p!["classes"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Base64_string_of_invalid_utf8_is_answered_400_naming_the_field()
    {
        var body = Encoding.UTF8.GetBytes("""{"instances": [{"b64": "AA"}]}""");
        body[Array.IndexOf(body, (byte)'A')] = 0xC3; // a lead byte followed by 'A', not a continuation byte
        using var content = new ByteArrayContent(body);

        var (status, json) = await SendAsync(HttpMethod.Post, Predict, content);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("instances[0].b64 is not valid UTF-8", json["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(_served.Log);
    }

    [Fact]
    public async Task Body_declared_longer_than_the_limit_is_answered_413()
    {
        var body = Oversized();
        using var content = new ByteArrayContent(body);
        Assert.Equal(body.Length, content.Headers.ContentLength);

        var (status, json) = await SendAsync(HttpMethod.Post, Predict, content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains($"the body is {body.Length:N0} bytes, more than the 16,384 allowed", json["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chunked_body_longer_than_the_limit_is_answered_413()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Predict) { Content = new UnknownLengthContent(Oversized()) };

        using var response = await Client.SendAsync(request);
        var json = await ReadJsonAsync(response);

        Assert.True(request.Headers.TransferEncodingChunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("the body is more than the 16,384 bytes allowed", json["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chunked_body_within_the_limit_is_predicted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Predict)
        {
            Content = new UnknownLengthContent(Encoding.UTF8.GetBytes(Instances(TestImages.White))),
        };

        using var response = await Client.SendAsync(request);
        var json = await ReadJsonAsync(response);

        Assert.True(request.Headers.TransferEncodingChunked);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TinyExport.Light, Assert.Single(json["predictions"]!.AsArray())!["classes"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("POST", "v1/models/other:predict", "no model named \"other\"; this server serves \"tiny\"")]
    [InlineData("POST", "v1/models/tiny:regress", "predict with POST /v1/models/tiny:predict (or :classify)")]
    [InlineData("GET", "v1/models/other", "no model named \"other\"")]
    [InlineData("GET", "v1/models/other/metadata", "no model named \"other\"")]
    [InlineData("GET", "v1/models", "no endpoint GET /v1/models")]
    [InlineData("GET", "v2/models/tiny:predict", "no endpoint GET /v2/models/tiny:predict")]
    [InlineData("GET", "favicon.ico", "no endpoint GET /favicon.ico")]
    [InlineData("DELETE", "v1/models/other", "no endpoint DELETE /v1/models/other")]
    [InlineData("POST", "v1/models/tiny:predict/metadata", "no endpoint POST /v1/models/tiny:predict/metadata")]
    public async Task Wrong_model_or_unknown_endpoint_is_answered_404_with_an_error_that_names_it(string method, string path, string expected)
    {
        using var content = method == "POST" ? new StringContent(Instances(TestImages.Black), Encoding.UTF8, "application/json") : null;

        var (status, json) = await SendAsync(new HttpMethod(method), path, content);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains(expected, json["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "healthz", new[] { "GET", "HEAD" })]
    [InlineData("DELETE", "v1/models/tiny", new[] { "GET", "HEAD" })]
    [InlineData("POST", "v1/models/tiny", new[] { "GET", "HEAD" })]
    [InlineData("PUT", "v1/models/tiny/metadata", new[] { "GET", "HEAD" })]
    [InlineData("GET", "v1/models/tiny:predict", new[] { "POST" })]
    [InlineData("PUT", "v1/models/tiny:predict", new[] { "POST" })]
    public async Task Wrong_method_on_an_endpoint_is_answered_405_with_the_allowed_methods(string method, string path, string[] allowed)
    {
        using var content = method is "POST" or "PUT" ? new StringContent(Instances(TestImages.Black), Encoding.UTF8, "application/json") : null;
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };

        using var response = await Client.SendAsync(request);
        var json = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allowed, response.Content.Headers.Allow);
        Assert.Contains($"{method} is not allowed on /{path}; use {string.Join(" or ", allowed)}", json["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(_served.Log);
    }

    [Theory]
    [InlineData("healthz")]
    [InlineData("v1/models/tiny")]
    [InlineData("v1/models/tiny/metadata")]
    public async Task Head_is_answered_as_get_is_without_the_body(string path)
    {
        using var get = await Client.GetAsync(path);
        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("application/json", head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.NotEmpty(await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Concurrent_requests_each_get_the_answer_for_their_own_images()
    {
        // 24 distinct images: dark grays, light grays and left-lit images of decreasing brightness, in turn.
        var cases = Enumerable.Range(0, 24).Select(i => (i % 3) switch
        {
            0 => (Image: TestImages.GrayPng((byte)(i / 3 * 10)), Class: TinyExport.Dark),
            1 => (Image: TestImages.GrayPng((byte)(255 - i / 3 * 10)), Class: TinyExport.Light),
            _ => (Image: TestImages.LeftLitPng(level: (byte)(255 - i / 3 * 10)), Class: TinyExport.LeftLit),
        }).ToList();
        var expected = cases.Select(c => Assert.Single(_served.Classifier.Predict([c.Image], ["expected"]))).ToList();

        var answers = await Task.WhenAll(cases.Select(c => PostAsync(Predict, Instances(c.Image))));

        for (var i = 0; i < cases.Count; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].Status);
            var prediction = Assert.Single(answers[i].Json["predictions"]!.AsArray())!;
            Assert.Equal(cases[i].Class, prediction["classes"]!.GetValue<int>());
            Assert.Equal(expected[i].Probabilities, prediction["probabilities"]!.AsArray().Select(v => v!.GetValue<float>()));
        }
        Assert.Empty(_served.Log);
    }

    [Fact]
    public async Task The_served_version_answers_under_its_number_and_another_number_is_a_404_naming_the_served_one()
    {
        var (predicted, prediction) = await PostAsync($"v1/models/{ServedModel.Name}/versions/1:predict", Instances(TestImages.Black));
        var (classified, _) = await PostAsync($"v1/models/{ServedModel.Name}/versions/1:classify",
            new JsonObject { ["examples"] = new JsonArray(ImageBytes(TestImages.White)) }.ToJsonString());
        var (status, statusJson) = await GetAsync($"v1/models/{ServedModel.Name}/versions/1");
        var (metadata, metadataJson) = await GetAsync($"v1/models/{ServedModel.Name}/versions/1/metadata");
        var (missing, missingJson) = await PostAsync($"v1/models/{ServedModel.Name}/versions/7:predict", Instances(TestImages.Black));
        var (missingStatus, _) = await GetAsync($"v1/models/{ServedModel.Name}/versions/7");

        Assert.Equal(HttpStatusCode.OK, predicted);
        Assert.Equal(TinyExport.Dark, prediction["predictions"]![0]!["classes"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.OK, classified);
        Assert.Equal((HttpStatusCode.OK, "1"), (status, statusJson["model_version_status"]![0]!["version"]!.GetValue<string>()));
        Assert.Equal((HttpStatusCode.OK, "1"), (metadata, metadataJson["model_spec"]!["version"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal("tiny: version 7 is not served; available: 1", missingJson["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, missingStatus);
    }

    [Fact]
    public async Task Instance_keys_come_back_with_their_predictions_and_the_default_signature_may_be_named()
    {
        var body = $$"""
            {"signature_name": "serving_default", "instances": [
              {"image_bytes": {"b64": "{{Convert.ToBase64String(TestImages.Black)}}"}, "key": "a-17"},
              {"b64": "{{Convert.ToBase64String(TestImages.White)}}", "key": 18},
              {"b64": "{{Convert.ToBase64String(TestImages.White)}}"}]}
            """;

        var (status, json) = await PostAsync(Predict, body);

        Assert.Equal(HttpStatusCode.OK, status);
        var predictions = json["predictions"]!.AsArray();
        Assert.Equal("a-17", predictions[0]!["key"]!.GetValue<string>());
        Assert.Equal(18, predictions[1]!["key"]!.GetValue<int>());
        Assert.Null(predictions[2]!["key"]);
        Assert.Equal([TinyExport.Dark, TinyExport.Light, TinyExport.Light], predictions.Select(p => p!["classes"]!.GetValue<int>()));
    }

    [Fact]
    public async Task The_columnar_form_is_answered_in_columns_with_its_keys()
    {
        var images = new JsonArray([.. new[] { TestImages.Black, TestImages.White }.Select(i => (JsonNode)new JsonObject { ["b64"] = Convert.ToBase64String(i) })]);
        var (status, json) = await PostAsync(Predict, new JsonObject { ["inputs"] = new JsonObject { ["image_bytes"] = images, ["key"] = new JsonArray(1, 2) } }.ToJsonString());

        Assert.Equal(HttpStatusCode.OK, status);
        var outputs = json["outputs"]!.AsObject();
        Assert.Equal([TinyExport.Dark, TinyExport.Light], outputs["classes"]!.AsArray().Select(c => c!.GetValue<int>()));
        Assert.Equal(["dark", "light"], outputs["label"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(2, outputs["probabilities"]!.AsArray().Count);
        Assert.Equal([1, 2], outputs["key"]!.AsArray().Select(c => c!.GetValue<int>()));
        Assert.Null(json["predictions"]);

        // One input, so its name may be left out.
        var (bare, bareJson) = await PostAsync(Predict, new JsonObject { ["inputs"] = images.DeepClone() }.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, bare);
        Assert.Equal([TinyExport.Dark, TinyExport.Light], bareJson["outputs"]!["classes"]!.AsArray().Select(c => c!.GetValue<int>()));
        Assert.Null(bareJson["outputs"]!["key"]);
    }

    [Fact]
    public async Task Classify_answers_every_class_with_its_score_the_likeliest_first()
    {
        var body = new JsonObject { ["examples"] = new JsonArray(ImageBytes(TestImages.Black), ImageBytes(TestImages.White)) }.ToJsonString();

        var (status, json) = await PostAsync($"v1/models/{ServedModel.Name}:classify", body);

        Assert.Equal(HttpStatusCode.OK, status);
        var result = json["result"]!.AsArray();
        Assert.Equal(2, result.Count);
        var first = result[0]!.AsArray();
        Assert.Equal(TinyExport.Classes.Length, first.Count);
        Assert.Equal("dark", first[0]![0]!.GetValue<string>());
        Assert.Equal("light", result[1]![0]![0]!.GetValue<string>());
        var scores = first.Select(c => c![1]!.GetValue<double>()).ToList();
        Assert.Equal(scores.OrderByDescending(v => v), scores);
        Assert.Equal(1.0, scores.Sum(), 5);
    }

    [Theory]
    [InlineData("""{"signature_name": "classify_x", "instances": [{"b64": "AAAA"}]}""", "signature_name \"classify_x\" is not a signature of this model; its one signature is \"serving_default\"")]
    [InlineData("""{"instances": [{"b64": "AAAA"}], "inputs": [{"b64": "AAAA"}]}""", "the body has both \"instances\" (the row form) and \"inputs\" (the columnar form); send one of them")]
    [InlineData("""{"inputs": {"image": [{"b64": "AAAA"}]}}""", "inputs has no input \"image\": this model's inputs are \"image_bytes\" or \"input\" (and an optional \"key\")")]
    [InlineData("""{"inputs": {"image_bytes": [{"b64": "AAAA"}], "input": [[[[0, 0, 0, 0]]]]}}""", "inputs has both \"image_bytes\" and \"input\"; an instance is one or the other, so send one of them")]
    [InlineData("""{"instances": [[[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]]]}""", "instances[0][0] has 3 items; it must have 4 (\"input\" is [channels, height, width] = [1, 4, 4] normalized floats)")]
    [InlineData("""{"instances": [{"input": [[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, "x", 0]]]}]}""", "instances[0].input[0][3][2] is a JSON string, not a finite number; \"input\" is [channels, height, width] = [1, 4, 4] normalized floats")]
    [InlineData("""{"instances": [{"input": [[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1e999, 0]]]}]}""", "instances[0].input[0][3][2] is 1e999, not a finite number; \"input\" is [channels, height, width] = [1, 4, 4] normalized floats")]
    [InlineData("""{"instances": [{"input": [[0, 0], [0, 0]], "b64": "AAAA"}]}""", "instances[0] has both an image and \"input\"; an instance is one or the other")]
    [InlineData("""{"inputs": {"input": [7]}}""", "inputs.input[0] is a JSON number, not a list; \"input\" is [channels, height, width] = [1, 4, 4] normalized floats")]
    [InlineData("""{"inputs": {"image_bytes": [{"b64": "AAAA"}], "key": [1, 2]}}""", "inputs.key must be a list of 1 keys, one per image")]
    [InlineData("""{"instances": [{"b64": "AAAA", "key": {"id": 1}}]}""", "instances[0].key is a JSON object; a key is a string or a number")]
    public async Task A_request_in_the_wrong_form_is_a_400_naming_the_field(string body, string expected)
    {
        var (status, json) = await PostAsync(Predict, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(expected, json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tensors_are_predicted_as_the_images_they_were_prepared_from_in_every_form()
    {
        // The tiny model's input is the pixels divided by 255: a black image is zeros, a left-lit one ones on the left.
        var dark = Tensor((_, _) => 0);
        var leftLit = Tensor((_, x) => x < TinyExport.Size / 2 ? 1 : 0);
        var fromImages = (await PostAsync(Predict, Instances(TestImages.Black, TestImages.LeftLitPng()))).Json["predictions"]!.AsArray();

        var (rows, rowsJson) = await PostAsync(Predict, new JsonObject
        {
            ["instances"] = new JsonArray(dark, new JsonObject { ["input"] = leftLit, ["key"] = "k2" }, ImageBytes(TestImages.White)),
        }.ToJsonString());
        var (columns, columnsJson) = await PostAsync(Predict, new JsonObject
        {
            ["inputs"] = new JsonObject { ["input"] = new JsonArray(dark.DeepClone(), leftLit.DeepClone()) },
        }.ToJsonString());

        Assert.Equal(HttpStatusCode.OK, rows);
        var predictions = rowsJson["predictions"]!.AsArray();
        Assert.Equal([TinyExport.Dark, TinyExport.LeftLit, TinyExport.Light], predictions.Select(p => p!["classes"]!.GetValue<int>()));
        Assert.Equal("k2", predictions[1]!["key"]!.GetValue<string>());
        Assert.Equal(fromImages[0]!["probabilities"]!.ToJsonString(), predictions[0]!["probabilities"]!.ToJsonString());
        Assert.Equal(fromImages[1]!["probabilities"]!.ToJsonString(), predictions[1]!["probabilities"]!.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, columns);
        Assert.Equal([TinyExport.Dark, TinyExport.LeftLit], columnsJson["outputs"]!["classes"]!.AsArray().Select(c => c!.GetValue<int>()));
    }

    /// <summary>A [1, Size, Size] tensor for the tiny model, as nested lists.</summary>
    private static JsonArray Tensor(Func<int, int, float> value) => new(new JsonArray([.. Enumerable.Range(0, TinyExport.Size)
        .Select(y => (JsonNode)new JsonArray([.. Enumerable.Range(0, TinyExport.Size).Select(x => (JsonNode)JsonValue.Create(value(y, x)))]))]));

    private static JsonObject ImageBytes(byte[] image) =>
        new() { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(image) } };

    private static string Instances(params byte[][] images) =>
        new JsonObject { ["instances"] = new JsonArray([.. images.Select(i => (JsonNode)ImageBytes(i))]) }.ToJsonString();

    /// <summary>A well-formed request of one image, padded with whitespace past <see cref="ServedModel.MaxBodyBytes"/>.</summary>
    private static byte[] Oversized() => Encoding.UTF8.GetBytes(Instances(TestImages.Black) + new string(' ', (int)ServedModel.MaxBodyBytes));

    private Task<(HttpStatusCode Status, JsonObject Json)> GetAsync(string path) => SendAsync(HttpMethod.Get, path, null);

    private async Task<(HttpStatusCode Status, JsonObject Json)> PostAsync(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await SendAsync(HttpMethod.Post, path, content);
    }

    private async Task<(HttpStatusCode Status, JsonObject Json)> SendAsync(HttpMethod method, string path, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await Client.SendAsync(request);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    /// <summary>The body as a JSON object; fails the test when the server answered anything else.</summary>
    private static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json", $"{(int)response.StatusCode} with {response.Content.Headers.ContentType}: {text}");
        return Assert.IsType<JsonObject>(JsonNode.Parse(text));
    }
}
