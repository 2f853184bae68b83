using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.RateLimiting;
using Pipeline.Core.Images;
using Pipeline.Serving.Grpc.Proto;
using Pipeline.Serving.Http;
using Pipeline.Serving.Prediction;
using Pipeline.Serving.Versions;
using PredictRequest = Pipeline.Serving.Grpc.Proto.PredictRequest;

namespace Pipeline.Serving.Grpc;

/// <summary>
/// TF Serving's PredictionService over gRPC: Predict (the signature's tensors in, classes, label and probabilities
/// out), Classify (tf.Examples in, each class with its score), GetModelMetadata (the signature_def). Requests take
/// the same path as REST ones (<see cref="Predictor"/>): the same versions, limits and errors, as gRPC status codes.
/// </summary>
internal sealed class GrpcPredictionService(Predictor predictor, Action<string> log) : PredictionService.PredictionServiceBase
{
    /// <summary>The feature a Classify example's image is read from: the signature's input, or the records' own feature.</summary>
    private static readonly string[] ImageFeatures = ["image_bytes", "image/encoded"];

    private ServerOptions Options => predictor.Options;

    [EnableRateLimiting(PredictionServer.PredictPolicy)]
    public override Task<Proto.PredictResponse> Predict(PredictRequest request, ServerCallContext context) => GrpcStatus.Answer(async () =>
    {
        using var lease = Lease(request.ModelSpec, context);
        var (instances, keys) = Instances(request.Inputs, lease.Classifier.Card.Input);
        var outputs = new HashSet<string>(request.OutputFilter, StringComparer.Ordinal);
        foreach (var unknown in outputs.Where(o => o is not ("classes" or "label" or "probabilities" or "key")))
        {
            throw GrpcStatus.Invalid($"output_filter names \"{unknown}\": this model's outputs are classes, label and probabilities (and key when given)");
        }
        var predictions = await predictor.PredictAsync(lease, instances, context.CancellationToken).ConfigureAwait(false);
        var response = new Proto.PredictResponse { ModelSpec = Spec(lease.Version) };
        bool Wanted(string output) => outputs.Count == 0 || outputs.Contains(output);
        if (Wanted("classes"))
        {
            var classes = Tensor(DataType.DtInt64, predictions.Count);
            classes.Int64Val.AddRange(predictions.Select(p => (long)p.ClassId));
            response.Outputs.Add("classes", classes);
        }
        if (Wanted("label"))
        {
            var labels = Tensor(DataType.DtString, predictions.Count);
            labels.StringVal.AddRange(predictions.Select(p => ByteString.CopyFromUtf8(p.Label)));
            response.Outputs.Add("label", labels);
        }
        if (Wanted("probabilities"))
        {
            var probabilities = Tensor(DataType.DtFloat, predictions.Count, lease.Classifier.Card.Classes.Count);
            probabilities.FloatVal.AddRange(predictions.SelectMany(p => p.Probabilities));
            response.Outputs.Add("probabilities", probabilities);
        }
        if (keys is not null && Wanted("key"))
        {
            response.Outputs.Add("key", keys);
        }
        return response;
    }, log);

    [EnableRateLimiting(PredictionServer.PredictPolicy)]
    public override Task<ClassificationResponse> Classify(ClassificationRequest request, ServerCallContext context) => GrpcStatus.Answer(async () =>
    {
        using var lease = Lease(request.ModelSpec, context);
        var examples = request.Input?.KindCase switch
        {
            Input.KindOneofCase.ExampleList => request.Input.ExampleList.Examples,
            Input.KindOneofCase.ExampleListWithContext => request.Input.ExampleListWithContext.Examples,
            _ => throw GrpcStatus.Invalid("input is empty: send input.example_list with one tf.Example per image, its image in the bytes feature \"image_bytes\""),
        };
        var field = request.Input.KindCase == Input.KindOneofCase.ExampleList ? "input.example_list.examples" : "input.example_list_with_context.examples";
        CheckCount(examples.Count, field);
        var instances = new List<ModelInput>(examples.Count);
        for (var i = 0; i < examples.Count; i++)
        {
            var where = $"{field}[{i}]";
            var feature = ImageFeatures.Select(name => (Name: name, Found: examples[i].Features?.Feature.TryGetValue(name, out var value) == true ? value : null))
                .FirstOrDefault(f => f.Found is not null);
            if (feature.Found is null)
            {
                throw GrpcStatus.Invalid($"{where} has no image: give its encoded image in the bytes feature \"image_bytes\" (or \"image/encoded\", as our records do)");
            }
            if (feature.Found.BytesList is not { Value.Count: 1 } bytes)
            {
                throw GrpcStatus.Invalid($"{where}.features[\"{feature.Name}\"] must be a bytes_list of one encoded image");
            }
            instances.Add(new ModelInput($"{where}.features[\"{feature.Name}\"]", Image(bytes.Value[0], $"{where}.features[\"{feature.Name}\"]")));
        }
        var predictions = await predictor.PredictAsync(lease, instances, context.CancellationToken).ConfigureAwait(false);
        var classes = lease.Classifier.Card.Classes;
        var result = new ClassificationResult();
        foreach (var prediction in predictions)
        {
            var classifications = new Classifications();
            classifications.Classes.AddRange(prediction.Probabilities.Select((score, id) => new Class { Label = classes[id], Score = score })
                .OrderByDescending(c => c.Score));
            result.Classifications.Add(classifications);
        }
        return new ClassificationResponse { ModelSpec = Spec(lease.Version), Result = result };
    }, log);

    public override Task<GetModelMetadataResponse> GetModelMetadata(GetModelMetadataRequest request, ServerCallContext context) => GrpcStatus.Answer(() =>
    {
        using var lease = Lease(request.ModelSpec, context);
        if (request.MetadataField.Count == 0)
        {
            throw GrpcStatus.Invalid("metadata_field is empty: ask for \"signature_def\" (or \"model_card\", our model card as JSON)");
        }
        var response = new GetModelMetadataResponse { ModelSpec = Spec(lease.Version) };
        foreach (var field in request.MetadataField.Distinct(StringComparer.Ordinal))
        {
            response.Metadata.Add(field, field switch
            {
                "signature_def" => Any.Pack(ServingSignature.For(lease.Classifier.Card)),
                "model_card" => Any.Pack(new StringValue { Value = lease.Classifier.Card.ToJson().ToJsonString() }),
                _ => throw GrpcStatus.Invalid($"metadata_field \"{field}\" is not served; ask for \"signature_def\" or \"model_card\""),
            });
        }
        return Task.FromResult(response);
    }, log);

    /// <summary>The version the model spec names, leased; the signature must be the default one.</summary>
    private VersionLease Lease(ModelSpec? spec, ServerCallContext context)
    {
        if (spec is null)
        {
            throw GrpcStatus.Invalid("model_spec is missing; name the model");
        }
        if (spec.SignatureName is not ("" or Http.PredictRequest.Signature))
        {
            throw GrpcStatus.Invalid($"signature_name \"{spec.SignatureName}\" is not a signature of this model; its one signature is \"{Http.PredictRequest.Signature}\"");
        }
        int? version = spec.VersionChoiceCase == ModelSpec.VersionChoiceOneofCase.Version
            ? spec.Version is > 0 and <= int.MaxValue ? (int)spec.Version.Value : throw GrpcStatus.Invalid($"model_spec.version is {spec.Version}; a version is a number from 1")
            : null;
        var label = spec.VersionChoiceCase == ModelSpec.VersionChoiceOneofCase.VersionLabel ? spec.VersionLabel : null;
        var lease = predictor.Lease(spec.Name, version, label);
        context.GetHttpContext().Items[ServerMetrics.VersionItem] = lease.Version;
        return lease;
    }

    private ModelSpec Spec(int version) => new() { Name = Options.Name, Version = version, SignatureName = Http.PredictRequest.Signature };

    /// <summary>The instances of a Predict request: the image_bytes strings or the input tensor's rows, and the key tensor when given.</summary>
    private (List<ModelInput> Instances, TensorProto? Keys) Instances(IDictionary<string, TensorProto> inputs, InputSpec input)
    {
        foreach (var name in inputs.Keys.Where(n => n is not ("image_bytes" or Http.PredictRequest.TensorInput or "key")))
        {
            throw GrpcStatus.Invalid($"inputs has no input \"{name}\": this model's inputs are \"image_bytes\" or \"{Http.PredictRequest.TensorInput}\" (and an optional \"key\")");
        }
        inputs.TryGetValue("image_bytes", out var images);
        inputs.TryGetValue(Http.PredictRequest.TensorInput, out var tensor);
        if ((images is null) == (tensor is null))
        {
            throw GrpcStatus.Invalid(images is null
                ? $"inputs lacks \"image_bytes\": send the encoded images as a DT_STRING tensor (or \"{Http.PredictRequest.TensorInput}\": the model's input tensor)"
                : $"inputs has both \"image_bytes\" and \"{Http.PredictRequest.TensorInput}\"; send one of them");
        }
        var instances = images is not null ? ImageInstances(images) : TensorInstances(tensor!, input);
        if (!inputs.TryGetValue("key", out var keys))
        {
            return (instances, null);
        }
        var count = keys.Dtype switch
        {
            DataType.DtString => keys.StringVal.Count,
            DataType.DtInt64 => keys.Int64Val.Count,
            DataType.DtInt32 => keys.IntVal.Count,
            _ => throw GrpcStatus.Invalid($"inputs[\"key\"] is {keys.Dtype}; a key is DT_STRING, DT_INT64 or DT_INT32"),
        };
        if (count != instances.Count)
        {
            throw GrpcStatus.Invalid($"inputs[\"key\"] holds {count} keys; it must hold {instances.Count}, one per instance");
        }
        return (instances, keys);
    }

    private List<ModelInput> ImageInstances(TensorProto images)
    {
        if (images.Dtype != DataType.DtString)
        {
            throw GrpcStatus.Invalid($"inputs[\"image_bytes\"] is {images.Dtype}; it must be DT_STRING, one encoded image per string");
        }
        CheckCount(images.StringVal.Count, "inputs[\"image_bytes\"].string_val");
        if (images.TensorShape is { } shape && (shape.Dim.Count != 1 || shape.Dim[0].Size != images.StringVal.Count))
        {
            throw GrpcStatus.Invalid($"inputs[\"image_bytes\"] has shape [{string.Join(", ", shape.Dim.Select(d => d.Size))}] but {images.StringVal.Count} strings; "
                + $"its shape is [{images.StringVal.Count}]");
        }
        return [.. images.StringVal.Select((bytes, i) => new ModelInput($"inputs[\"image_bytes\"].string_val[{i}]", Image(bytes, $"inputs[\"image_bytes\"].string_val[{i}]")))];
    }

    private List<ModelInput> TensorInstances(TensorProto tensor, InputSpec input)
    {
        const string field = $"inputs[\"{Http.PredictRequest.TensorInput}\"]";
        var expected = $"it is DT_FLOAT [batch, {input.Channels}, {input.Size}, {input.Size}] of normalized floats";
        if (tensor.Dtype != DataType.DtFloat)
        {
            throw GrpcStatus.Invalid($"{field} is {tensor.Dtype}; {expected}");
        }
        var dims = tensor.TensorShape?.Dim.Select(d => d.Size).ToArray() ?? [];
        if (dims.Length != 4 || dims[1] != input.Channels || dims[2] != input.Size || dims[3] != input.Size)
        {
            throw GrpcStatus.Invalid($"{field} has shape [{string.Join(", ", dims)}]; {expected}");
        }
        if (dims[0] < 1 || dims[0] > Options.MaxInstances)
        {
            throw dims[0] > Options.MaxInstances
                ? GrpcStatus.Invalid($"too many instances: {dims[0]}; at most {Options.MaxInstances} per request")
                : GrpcStatus.Invalid($"{field} has shape [{string.Join(", ", dims)}]; its batch must be at least 1");
        }
        var count = (int)dims[0];
        var perImage = input.ValuesPerImage;
        float[] values;
        if (!tensor.TensorContent.IsEmpty)
        {
            if (tensor.TensorContent.Length != 4L * count * perImage)
            {
                throw GrpcStatus.Invalid($"{field}.tensor_content holds {tensor.TensorContent.Length} bytes; shape [{string.Join(", ", dims)}] needs {4L * count * perImage}");
            }
            values = new float[count * perImage];
            var bytes = tensor.TensorContent.Span;
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
            }
        }
        else if (tensor.FloatVal.Count == count * perImage)
        {
            values = [.. tensor.FloatVal];
        }
        else
        {
            throw GrpcStatus.Invalid($"{field}.float_val holds {tensor.FloatVal.Count} values; shape [{string.Join(", ", dims)}] needs {count * perImage}");
        }
        var instances = new List<ModelInput>(count);
        for (var i = 0; i < count; i++)
        {
            var row = values.AsSpan(i * perImage, perImage).ToArray();
            if (Array.FindIndex(row, v => !float.IsFinite(v)) is var bad and >= 0)
            {
                throw GrpcStatus.Invalid($"{field}[{i}] holds {row[bad]} at flat index {bad}; the values must be finite numbers");
            }
            instances.Add(ModelInput.Tensor($"{field}[{i}]", row));
        }
        return instances;
    }

    private void CheckCount(long count, string field)
    {
        if (count == 0)
        {
            throw GrpcStatus.Invalid($"{field} is empty; send at least one image");
        }
        if (count > Options.MaxInstances)
        {
            throw GrpcStatus.Invalid($"too many instances: {count}; at most {Options.MaxInstances} per request");
        }
    }

    private ReadOnlyMemory<byte> Image(ByteString bytes, string field)
    {
        if (bytes.IsEmpty)
        {
            throw GrpcStatus.Invalid($"{field} is empty; it must hold an image file");
        }
        if (bytes.Length > Options.MaxImageBytes)
        {
            throw GrpcStatus.Invalid($"{field}: the image is {bytes.Length:N0} bytes, more than the {Options.MaxImageBytes:N0} allowed per image");
        }
        return bytes.Memory;
    }

    private static TensorProto Tensor(DataType dtype, params long[] dims) => new() { Dtype = dtype, TensorShape = ServingSignature.Shape(dims) };
}
