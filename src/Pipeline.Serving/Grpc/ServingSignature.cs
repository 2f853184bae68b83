using Pipeline.Serving.Export;
using Pipeline.Serving.Grpc.Proto;

namespace Pipeline.Serving.Grpc;

/// <summary>
/// The serving_default signature of an exported version, as TF Serving's GetModelMetadata describes a SavedModel's:
/// inputs image_bytes (DT_STRING [-1]) or input (the model's tensor, DT_FLOAT [-1, channels, size, size]) and an
/// optional key; outputs classes, label and probabilities. gRPC sends it as it is; REST prints it as JSON.
/// </summary>
public static class ServingSignature
{
    public const string MethodName = "tensorflow/serving/predict";

    public static SignatureDefMap For(ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        var signature = new SignatureDef { MethodName = MethodName };
        signature.Inputs.Add("image_bytes", Tensor(DataType.DtString, "image_bytes", -1));
        signature.Inputs.Add(Http.PredictRequest.TensorInput, Tensor(DataType.DtFloat, Http.PredictRequest.TensorInput, -1, card.Input.Channels, card.Input.Size, card.Input.Size));
        signature.Inputs.Add("key", Tensor(DataType.DtString, "key", -1));
        signature.Outputs.Add("classes", Tensor(DataType.DtInt64, "classes", -1));
        signature.Outputs.Add("label", Tensor(DataType.DtString, "label", -1));
        signature.Outputs.Add("probabilities", Tensor(DataType.DtFloat, "probabilities", -1, card.Classes.Count));
        var map = new SignatureDefMap();
        map.SignatureDef.Add(Http.PredictRequest.Signature, signature);
        return map;
    }

    /// <summary>The signature map as TF Serving's REST API prints it: field names as in the protos, defaults included.</summary>
    public static string Json(ModelCard card) =>
        new Google.Protobuf.JsonFormatter(Google.Protobuf.JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true))
            .Format(For(card));

    private static TensorInfo Tensor(DataType dtype, string name, params long[] dims) =>
        new() { Name = $"{name}:0", Dtype = dtype, TensorShape = Shape(dims) };

    /// <summary>A tensor shape of these sizes (-1: any), as signatures and answers write them.</summary>
    internal static TensorShapeProto Shape(params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dim { Size = d }));
        return shape;
    }
}
