using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Pipeline.Core.Records.Proto;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Grpc.Proto;
using Pipeline.Serving.Http;
using Pipeline.Serving.Tests.TestSupport;
using Pipeline.Serving.Versions;
using PredictRequest = Pipeline.Serving.Grpc.Proto.PredictRequest;

namespace Pipeline.Serving.Tests.Grpc;

/// <summary>
/// TF Serving's gRPC API on the server's second port, called with the stubs generated from the same protos: the
/// answers REST gives, as tensors and protos, and the same mistakes as gRPC status codes.
/// </summary>
public sealed class GrpcServerTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly ConcurrentQueue<string> _log = new();
    private ModelVersions _versions = null!;
    private PredictionServer _server = null!;
    private GrpcChannel _channel = null!;
    private HttpClient _rest = null!;

    private PredictionService.PredictionServiceClient Prediction => new(_channel);

    private ModelService.ModelServiceClient Models => new(_channel);

    public async Task InitializeAsync()
    {
        var export = TinyExport.Write(_dir);
        TinyExport.WriteVersion(Path.Combine(export, "2"), [.. TinyExport.Classes.Select(c => $"v2-{c}")]);
        File.WriteAllText(Path.Combine(export, ModelVersions.LabelsFileName), """{"stable": 1}""");
        _versions = ModelVersions.Open(export, new VersionOptions { Threads = 1, PollInterval = TimeSpan.FromHours(1) }, _log.Enqueue);
        _server = await PredictionServer.StartAsync(_versions,
            new ServerOptions("tiny", "127.0.0.1", 0) { GrpcPort = 0, MaxInstances = ServedModel.MaxInstances, MaxImagePixels = ServedModel.MaxImagePixels }, _log.Enqueue);
        _channel = GrpcChannel.ForAddress(_server.GrpcAddress!);
        _rest = new HttpClient { BaseAddress = _server.Address };
    }

    public async Task DisposeAsync()
    {
        _rest.Dispose();
        _channel.Dispose();
        await _server.DisposeAsync();
        _versions.Dispose();
        _dir.Dispose();
    }

    private static ModelSpec Spec(long? version = null, string? label = null)
    {
        var spec = new ModelSpec { Name = "tiny" };
        if (version is { } number)
        {
            spec.Version = number;
        }
        if (label is not null)
        {
            spec.VersionLabel = label;
        }
        return spec;
    }

    private static TensorShapeProto Shape(params long[] sizes)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(sizes.Select(s => new TensorShapeProto.Types.Dim { Size = s }));
        return shape;
    }

    private static TensorProto Strings(params byte[][] values)
    {
        var tensor = new TensorProto { Dtype = DataType.DtString, TensorShape = Shape(values.Length) };
        tensor.StringVal.AddRange(values.Select(ByteString.CopyFrom));
        return tensor;
    }

    private static PredictRequest Images(ModelSpec spec, params byte[][] images) => new() { ModelSpec = spec, Inputs = { ["image_bytes"] = Strings(images) } };

    [Fact]
    public async Task Predict_answers_the_tensors_REST_answers_for_the_same_images_with_keys_and_the_version()
    {
        var request = Images(Spec(), TestImages.Black, TestImages.White, TestImages.LeftLitPng());
        request.Inputs["key"] = new TensorProto { Dtype = DataType.DtInt64, Int64Val = { 7, 8, 9 } };

        var response = await Prediction.PredictAsync(request);
        using var rest = await _rest.PostAsync("v1/models/tiny:predict", new StringContent(new JsonObject
        {
            ["instances"] = new JsonArray([.. new[] { TestImages.Black, TestImages.White, TestImages.LeftLitPng() }.Select(i => (JsonNode)new JsonObject { ["b64"] = Convert.ToBase64String(i) })]),
        }.ToJsonString(), Encoding.UTF8, "application/json"));
        var restPredictions = JsonNode.Parse(await rest.Content.ReadAsStringAsync())!["predictions"]!.AsArray();

        Assert.Equal(("tiny", 2L, "serving_default"), (response.ModelSpec.Name, response.ModelSpec.Version!.Value, response.ModelSpec.SignatureName));
        Assert.Equal([0L, 1, 2], response.Outputs["classes"].Int64Val);
        Assert.Equal(["v2-dark", "v2-light", "v2-left-lit"], response.Outputs["label"].StringVal.Select(s => s.ToStringUtf8()));
        var probabilities = response.Outputs["probabilities"];
        Assert.Equal([3L, 3], probabilities.TensorShape.Dim.Select(d => d.Size));
        Assert.Equal(restPredictions.SelectMany(p => p!["probabilities"]!.AsArray().Select(v => v!.GetValue<float>())), probabilities.FloatVal);
        Assert.Equal([7L, 8, 9], response.Outputs["key"].Int64Val);
    }

    [Fact]
    public async Task Predict_takes_the_input_tensor_as_float_val_or_tensor_content_and_pins_versions_by_number_or_label()
    {
        var values = Enumerable.Range(0, 2 * TinyExport.Size * TinyExport.Size).Select(i => i < TinyExport.Size * TinyExport.Size ? 0f : 1f).ToArray();
        var shape = Shape(2, 1, TinyExport.Size, TinyExport.Size);
        var asValues = new PredictRequest { ModelSpec = Spec(label: "stable"), Inputs = { ["input"] = new TensorProto { Dtype = DataType.DtFloat, TensorShape = shape, FloatVal = { values } } } };
        var content = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, content, 0, content.Length);
        var asContent = new PredictRequest { ModelSpec = Spec(version: 2), Inputs = { ["input"] = new TensorProto { Dtype = DataType.DtFloat, TensorShape = shape, TensorContent = ByteString.CopyFrom(content) } } };

        var stable = await Prediction.PredictAsync(asValues);
        var two = await Prediction.PredictAsync(asContent);

        Assert.Equal(1L, stable.ModelSpec.Version!.Value);
        Assert.Equal(["dark", "light"], stable.Outputs["label"].StringVal.Select(s => s.ToStringUtf8()));
        Assert.Equal(2L, two.ModelSpec.Version!.Value);
        Assert.Equal(["v2-dark", "v2-light"], two.Outputs["label"].StringVal.Select(s => s.ToStringUtf8()));
    }

    [Fact]
    public async Task Classify_reads_each_examples_image_and_answers_every_class_the_likeliest_first()
    {
        var request = new ClassificationRequest { ModelSpec = Spec(version: 1), Input = new Input { ExampleList = new ExampleList() } };
        foreach (var (feature, image) in new[] { ("image_bytes", TestImages.Black), ("image/encoded", TestImages.White) })
        {
            var example = new Example { Features = new Features() };
            example.Features.Feature[feature] = new Feature { BytesList = new BytesList { Value = { ByteString.CopyFrom(image) } } };
            request.Input.ExampleList.Examples.Add(example);
        }

        var response = await Prediction.ClassifyAsync(request);

        Assert.Equal(2, response.Result.Classifications.Count);
        Assert.Equal("dark", response.Result.Classifications[0].Classes[0].Label);
        Assert.Equal("light", response.Result.Classifications[1].Classes[0].Label);
        var scores = response.Result.Classifications[0].Classes.Select(c => c.Score).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        Assert.Equal(1.0, scores.Sum(), 5);
    }

    [Fact]
    public async Task Metadata_is_the_signature_def_REST_prints_and_status_lists_every_version()
    {
        var metadata = await Prediction.GetModelMetadataAsync(new GetModelMetadataRequest { ModelSpec = Spec(), MetadataField = { "signature_def" } });
        var status = await Models.GetModelStatusAsync(new GetModelStatusRequest { ModelSpec = Spec() });
        var labelled = await Models.GetModelStatusAsync(new GetModelStatusRequest { ModelSpec = Spec(label: "stable") });
        using var rest = await _rest.GetAsync("v1/models/tiny/metadata");

        var signature = metadata.Metadata["signature_def"].Unpack<SignatureDefMap>().SignatureDef["serving_default"];
        Assert.Equal("tensorflow/serving/predict", signature.MethodName);
        Assert.Equal(DataType.DtString, signature.Inputs["image_bytes"].Dtype);
        Assert.Equal([-1L, 1, TinyExport.Size, TinyExport.Size], signature.Inputs["input"].TensorShape.Dim.Select(d => d.Size));
        Assert.Equal([-1L, 3], signature.Outputs["probabilities"].TensorShape.Dim.Select(d => d.Size));
        var restSignature = JsonNode.Parse(await rest.Content.ReadAsStringAsync())!["metadata"]!["signature_def"]!;
        Assert.Equal(
            JsonNode.Parse(new JsonFormatter(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true))
                .Format(metadata.Metadata["signature_def"].Unpack<SignatureDefMap>()))!.ToJsonString(),
            restSignature.ToJsonString());
        Assert.Equal([(2L, ModelVersionStatus.Types.State.Available), (1L, ModelVersionStatus.Types.State.Available)],
            status.ModelVersionStatus.Select(s => (s.Version, s.State)));
        Assert.Equal(1L, Assert.Single(labelled.ModelVersionStatus).Version);
    }

    public static TheoryData<string, StatusCode, string> Mistakes => new()
    {
        { "unknown model", StatusCode.NotFound, "no model named \"other\"; this server serves \"tiny\"" },
        { "unknown version", StatusCode.NotFound, "tiny: version 5 is not served; available: 1, 2" },
        { "unknown label", StatusCode.NotFound, "tiny: no version is labelled \"canary\"; labels: stable → 1" },
        { "another signature", StatusCode.InvalidArgument, "signature_name \"classify\" is not a signature of this model" },
        { "no images", StatusCode.InvalidArgument, "inputs lacks \"image_bytes\"" },
        { "a broken image", StatusCode.InvalidArgument, "inputs[\"image_bytes\"].string_val[1]: " },
        { "an image too large", StatusCode.InvalidArgument, "inputs[\"image_bytes\"].string_val[0]: image too large: 40×40 is more than the 1,000 pixels allowed" },
        { "too many images", StatusCode.InvalidArgument, "too many instances: 5; at most 4 per request" },
        { "a tensor of the wrong shape", StatusCode.InvalidArgument, "inputs[\"input\"] has shape [1, 1, 4]; it is DT_FLOAT [batch, 1, 4, 4] of normalized floats" },
        { "a tensor of a negative batch", StatusCode.InvalidArgument, "inputs[\"input\"] has shape [-4294967295, 1, 4, 4]; its batch must be at least 1" },
        { "a tensor of a huge batch", StatusCode.InvalidArgument, "too many instances: 268435456; at most 4 per request" },
        { "keys that do not match", StatusCode.InvalidArgument, "inputs[\"key\"] holds 2 keys; it must hold 1, one per instance" },
        { "an unknown output", StatusCode.InvalidArgument, "output_filter names \"scores\"" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public async Task A_mistake_is_the_status_code_and_message_REST_would_give(string mistake, StatusCode code, string message)
    {
        var request = mistake switch
        {
            "unknown model" => Images(new ModelSpec { Name = "other" }, TestImages.Black),
            "unknown version" => Images(Spec(version: 5), TestImages.Black),
            "unknown label" => Images(Spec(label: "canary"), TestImages.Black),
            "another signature" => Images(new ModelSpec { Name = "tiny", SignatureName = "classify" }, TestImages.Black),
            "no images" => new PredictRequest { ModelSpec = Spec() },
            "a broken image" => Images(Spec(), TestImages.Black, Encoding.UTF8.GetBytes("not an image")),
            "an image too large" => Images(Spec(), TestImages.GrayPng(0, 40, 40)),
            "too many images" => Images(Spec(), [.. Enumerable.Repeat(TestImages.Black, 5)]),
            "a tensor of the wrong shape" => new PredictRequest
            {
                ModelSpec = Spec(),
                Inputs = { ["input"] = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Shape(1, 1, 4) } },
            },
            "a tensor of a negative batch" => new PredictRequest
            {
                ModelSpec = Spec(),
                Inputs = { ["input"] = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Shape(1 - (1L << 32), 1, 4, 4) } },
            },
            "a tensor of a huge batch" => new PredictRequest
            {
                ModelSpec = Spec(),
                Inputs = { ["input"] = new TensorProto { Dtype = DataType.DtFloat, TensorShape = Shape(1L << 28, 1, 4, 4) } },
            },
            "keys that do not match" => new PredictRequest
            {
                ModelSpec = Spec(),
                Inputs = { ["image_bytes"] = Strings(TestImages.Black), ["key"] = new TensorProto { Dtype = DataType.DtString, StringVal = { ByteString.CopyFromUtf8("a"), ByteString.CopyFromUtf8("b") } } },
            },
            "an unknown output" => new PredictRequest { ModelSpec = Spec(), Inputs = { ["image_bytes"] = Strings(TestImages.Black) }, OutputFilter = { "scores" } },
            _ => throw new ArgumentOutOfRangeException(nameof(mistake)),
        };

        var error = await Assert.ThrowsAsync<RpcException>(async () => await Prediction.PredictAsync(request));

        Assert.Equal(code, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(_log, l => l.StartsWith("error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_count_grpc_calls_by_method_version_and_grpc_status()
    {
        await Prediction.PredictAsync(Images(Spec(), TestImages.Black));
        await Assert.ThrowsAsync<RpcException>(async () => await Prediction.PredictAsync(Images(Spec(version: 9), TestImages.Black)));

        var lines = (await _rest.GetStringAsync(ServerMetrics.Path.TrimStart('/'))).Split('\n');

        Assert.Contains("pipeline_requests_total{model=\"tiny\",version=\"2\",endpoint=\"grpc_predict\",code=\"grpc-0\"} 1", lines);
        Assert.Contains("pipeline_requests_total{model=\"tiny\",version=\"\",endpoint=\"grpc_predict\",code=\"grpc-5\"} 1", lines);
    }

    /// <summary>
    /// The independent client: Debian's python3-grpcio, with stubs python3-grpc-tools compiles from the same protos,
    /// gets REST's predictions for the same images. Skipped without those packages, unless PIPELINE_REQUIRE_GRPCIO is set.
    /// </summary>
    [PythonGrpcFact]
    public async Task Debian_python_grpcio_client_gets_the_predictions_REST_gives()
    {
        var images = new[] { TestImages.Black, TestImages.White, TestImages.LeftLitPng() }
            .Select((bytes, i) => _dir.WriteBytes($"images/{i}.png", bytes)).ToList();
        var protos = new[] { "src/Pipeline.Serving/Grpc/Proto", "src/Pipeline.Core/Records/Proto" }.Select(p => Path.Combine(Repository.Root, p));
        var (exitCode, output, errors) = await ChildProcess.RunAsync(PythonGrpcFactAttribute.Python,
            [Path.Combine(Repository.Root, "tests/Pipeline.Serving.Tests/Grpc/tf_serving_client.py"), $"127.0.0.1:{_server.GrpcAddress!.Port}", "tiny", .. protos, "--", .. images],
            TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"the python client failed ({exitCode}): {errors}");
        var answer = JsonNode.Parse(output)!;
        using var rest = await _rest.PostAsync("v1/models/tiny:predict", new StringContent(new JsonObject
        {
            ["instances"] = new JsonArray([.. images.Select(i => (JsonNode)new JsonObject { ["b64"] = Convert.ToBase64String(File.ReadAllBytes(i)) })]),
        }.ToJsonString(), Encoding.UTF8, "application/json"));
        var restPredictions = JsonNode.Parse(await rest.Content.ReadAsStringAsync())!["predictions"]!.AsArray();

        var predict = answer["predict"]!;
        Assert.Equal(2, predict["version"]!.GetValue<int>());
        Assert.Equal(restPredictions.Select(p => p!["classes"]!.GetValue<int>()), predict["classes"]!.AsArray().Select(c => c!.GetValue<int>()));
        Assert.Equal(restPredictions.Select(p => p!["label"]!.GetValue<string>()), predict["label"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(restPredictions.Select(p => p!["probabilities"]!.AsArray().Select(v => v!.GetValue<float>()).ToList()),
            predict["probabilities"]!.AsArray().Select(row => row!.AsArray().Select(v => v!.GetValue<float>()).ToList()));
        Assert.Equal([100, 101, 102], predict["key"]!.AsArray().Select(k => k!.GetValue<int>()));
        Assert.Equal(["v2-dark", "v2-light", "v2-left-lit"], answer["classify"]!.AsArray().Select(c => c![0]![0]!.GetValue<string>()));
        Assert.Equal("""["DT_FLOAT",[-1,1,4,4]]""", answer["metadata"]!["inputs"]!["input"]!.ToJsonString());
        Assert.Equal("""[[2,"AVAILABLE"],[1,"AVAILABLE"]]""", answer["status"]!.ToJsonString());
        Assert.Equal("""["NOT_FOUND","no model named \u0022no-such-model\u0022; this server serves \u0022tiny\u0022"]""", answer["unknown_model"]!.ToJsonString());
    }
}

/// <summary>A test that runs Debian's python3 with python3-grpcio and python3-grpc-tools; skipped without them unless PIPELINE_REQUIRE_GRPCIO is set.</summary>
public sealed class PythonGrpcFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";
    public const string RequireVariable = "PIPELINE_REQUIRE_GRPCIO";

    public PythonGrpcFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(RequireVariable) is null && !Available())
        {
            Skip = $"Debian's python3-grpcio and python3-grpc-tools are not installed (./build.sh --target=Test installs them and sets {RequireVariable})";
        }
    }

    private static bool Available()
    {
        if (!File.Exists(Python))
        {
            return false;
        }
        using var process = Process.Start(new ProcessStartInfo(Python, ["-c", "import grpc, grpc_tools.protoc"]) { UseShellExecute = false, RedirectStandardError = true })!;
        process.WaitForExit();
        return process.ExitCode == 0;
    }
}
