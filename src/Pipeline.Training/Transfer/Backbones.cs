using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;
using Pipeline.Serving.Export;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The backbone transfer.from names: the ImageNet ResNet-18, or another dataset's latest export cut before its
/// classifier (the input of the Gemm that feeds its Softmax). Both become an <see cref="OnnxBackbone"/>.
/// </summary>
internal static class Backbones
{
    /// <summary>artifacts/NAME/export for a "dataset:NAME" source; null for the ImageNet backbone.</summary>
    public static string? ExportFolder(TransferParameters transfer, string artifactsDirectory) =>
        TransferBackbones.Dataset(transfer.From) is { } name ? Path.Combine(Path.GetDirectoryName(artifactsDirectory)!, name, "export") : null;

    /// <summary>
    /// The files the bottlenecks depend on besides the records: the other dataset's latest pointer and that version's
    /// graph and card. None for the ImageNet backbone, whose files are pinned by hash (<see cref="Parameters"/>).
    /// </summary>
    public static IEnumerable<StageInput> Inputs(TransferParameters transfer, string artifactsDirectory)
    {
        if (ExportFolder(transfer, artifactsDirectory) is not { } folder)
        {
            yield break;
        }
        var name = TransferBackbones.Dataset(transfer.From);
        yield return StageInput.File($"{name}/export/{ExportedModel.LatestPointer}", Path.Combine(folder, ExportedModel.LatestPointer), BuildFirst(transfer));
        if (ExportedModel.Latest(folder) is { } version)
        {
            foreach (var file in new[] { ModelCard.OnnxFile, ModelCard.FileName })
            {
                yield return StageInput.File($"{name}/export/{version}/{file}", Path.Combine(folder, version.ToString(System.Globalization.CultureInfo.InvariantCulture), file));
            }
        }
    }

    /// <summary>What names the backbone among the stage's parameters.</summary>
    public static JsonNode Parameters(TransferParameters transfer) =>
        transfer.From == TransferBackbones.ImageNetResNet18 ? ImageNetResNet18.Fingerprint : "the export's files (inputs)";

    /// <summary>The backbone's identity in the bottleneck cache: its pinned files' hashes, or the export's graph and input.</summary>
    /// <exception cref="PipelineException">The other dataset has no export.</exception>
    public static string Key(TransferParameters transfer, string artifactsDirectory)
    {
        if (ExportFolder(transfer, artifactsDirectory) is not { } folder)
        {
            return ImageNetResNet18.Fingerprint;
        }
        var exported = OpenExport(transfer, folder);
        return ContentHash.OfText($"{ContentHash.OfFile(exported.OnnxPath)}:{exported.Card.Input}");
    }

    /// <summary>What the backbone reads, known without loading it.</summary>
    /// <exception cref="PipelineException">The other dataset has no export.</exception>
    public static Core.Images.InputSpec InputOf(TransferParameters transfer, string artifactsDirectory) =>
        ExportFolder(transfer, artifactsDirectory) is { } folder ? OpenExport(transfer, folder).Card.Input : ImageNetResNet18.Input;

    /// <param name="threads">ONNX Runtime threads per run; 0 lets it choose.</param>
    /// <exception cref="PipelineException">The backbone's files are missing, altered, or not a classifier this pipeline exported.</exception>
    public static OnnxBackbone Open(TransferParameters transfer, string artifactsDirectory, int threads = 0)
    {
        if (ExportFolder(transfer, artifactsDirectory) is not { } folder)
        {
            return ImageNetResNet18.Open(threads: threads);
        }
        var exported = OpenExport(transfer, folder);
        var (backbone, dimension) = CutBeforeClassifier(exported.OnnxPath);
        return new OnnxBackbone(transfer.From, exported.Card.Input, dimension,
            (graph, input) => graph.Append(backbone, "backbone/", new Dictionary<string, string> { [ModelCard.OnnxInput] = input })[0], threads);
    }

    /// <summary>Where the backbone comes from, for a person: the package folder or the export version.</summary>
    public static string Describe(TransferParameters transfer, string artifactsDirectory)
    {
        if (ExportFolder(transfer, artifactsDirectory) is not { } folder)
        {
            return $"the ImageNet ResNet-18 from {DisplayPath.FromCurrentDirectory(ImageNetResNet18.Folder())} (SHA-256 checked)";
        }
        var exported = OpenExport(transfer, folder);
        return $"{transfer.From}'s export version {exported.Version} ({exported.Card.Architecture}), cut before its classifier";
    }

    private static string BuildFirst(TransferParameters transfer) =>
        $"transfer.from is {transfer.From}, which has no export yet: build it first (./build.sh --dataset={TransferBackbones.Dataset(transfer.From)} --target=Export)";

    private static ExportedModel OpenExport(TransferParameters transfer, string folder)
    {
        if (ExportedModel.Latest(folder) is null)
        {
            throw new PipelineException(BuildFirst(transfer), folder);
        }
        return ExportedModel.Open(folder);
    }

    /// <summary>
    /// The graph up to its classifier's input: our exports end in Gemm (the last Linear layer) then Softmax, and
    /// everything before that Gemm is the backbone; its input A is the bottleneck.
    /// </summary>
    internal static (ModelProto Backbone, int Dimension) CutBeforeClassifier(string onnxPath)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(onnxPath);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new PipelineException($"not an ONNX model ({e.Message})", onnxPath, e);
        }
        var producers = model.Graph.Node.SelectMany(n => n.Output.Select(o => (Output: o, Node: n))).ToDictionary(p => p.Output, p => p.Node, StringComparer.Ordinal);
        if (!producers.TryGetValue(ModelCard.OnnxOutput, out var softmax) || softmax.OpType != "Softmax"
            || !producers.TryGetValue(softmax.Input[0], out var gemm) || gemm.OpType != "Gemm" || gemm.Input.Count < 2)
        {
            throw new PipelineException($"the graph does not end in a classifier (Gemm, then Softmax answering \"{ModelCard.OnnxOutput}\"): no backbone to cut from it", onnxPath);
        }
        var weight = model.Graph.Initializer.FirstOrDefault(t => t.Name == gemm.Input[1]);
        if (weight is null || weight.Dims.Count != 2)
        {
            throw new PipelineException($"the classifier's weights ({gemm.Input[1]}) are not a matrix in the graph: no bottleneck size to read", onnxPath);
        }
        var transposed = gemm.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1;
        var dimension = (int)(transposed ? weight.Dims[1] : weight.Dims[0]);
        return (OnnxGraph.UpTo(model, gemm.Input[0], "batch", dimension), dimension);
    }
}
