using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;
using Pipeline.Serving.Export;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The backbone transfer.from names, as an <see cref="OnnxBackbone"/>: the ImageNet ResNet-18; another dataset's
/// latest export cut before its classifier (the input of the Gemm that feeds its Softmax); or a state dict file of
/// one of our architectures, written to ONNX by our exporter and cut the same way.
/// </summary>
internal static class Backbones
{
    private static TransferParameters Transfer(DatasetDefinition dataset) =>
        dataset.Transfer ?? throw new InvalidOperationException($"{dataset.Name} has no transfer section");

    /// <summary>artifacts/NAME/export for a "dataset:NAME" source; null otherwise.</summary>
    public static string? ExportFolder(DatasetDefinition dataset, string artifactsDirectory) =>
        TransferBackbones.Dataset(Transfer(dataset).From) is { } name ? Path.Combine(Path.GetDirectoryName(artifactsDirectory)!, name, "export") : null;

    /// <summary>The state dict file of a "weights:PATH" source; null otherwise.</summary>
    public static string? WeightsFile(DatasetDefinition dataset) =>
        TransferBackbones.Weights(Transfer(dataset).From) is { } path ? dataset.Resolve(path) : null;

    /// <summary>
    /// The files the bottlenecks depend on besides the records: the weights file, or the other dataset's latest pointer
    /// and that version's graph and card. None for the ImageNet backbone, whose files are pinned by hash (<see cref="Parameters"/>).
    /// </summary>
    public static IEnumerable<StageInput> Inputs(DatasetDefinition dataset, string artifactsDirectory)
    {
        if (WeightsFile(dataset) is { } weights)
        {
            yield return StageInput.File("transfer weights", weights);
        }
        if (ExportFolder(dataset, artifactsDirectory) is not { } folder)
        {
            yield break;
        }
        var name = TransferBackbones.Dataset(Transfer(dataset).From);
        yield return StageInput.File($"{name}/export/{ExportedModel.LatestPointer}", Path.Combine(folder, ExportedModel.LatestPointer), BuildFirst(Transfer(dataset)));
        if (ExportedModel.Latest(folder) is { } version)
        {
            foreach (var file in new[] { ModelCard.OnnxFile, ModelCard.FileName })
            {
                yield return StageInput.File($"{name}/export/{version}/{file}", Path.Combine(folder, version.ToString(System.Globalization.CultureInfo.InvariantCulture), file));
            }
        }
    }

    /// <summary>What names the backbone among the stage's parameters (besides transfer.from and the input files).</summary>
    public static JsonNode Parameters(DatasetDefinition dataset)
    {
        var transfer = Transfer(dataset);
        if (transfer.From == TransferBackbones.ImageNetResNet18)
        {
            return ImageNetResNet18.Fingerprint;
        }
        return WeightsFile(dataset) is null ? "the export's files (inputs)" : WeightsInput(transfer).ToString();
    }

    /// <summary>The backbone's identity in the bottleneck cache: its pinned files' hashes, or the graph's or weights' content and input.</summary>
    /// <exception cref="PipelineException">The other dataset has no export.</exception>
    public static string Key(DatasetDefinition dataset, string artifactsDirectory)
    {
        if (WeightsFile(dataset) is { } weights)
        {
            return ContentHash.OfText($"{ContentHash.OfFile(weights)}:{Transfer(dataset).Architecture}:{WeightsInput(Transfer(dataset))}");
        }
        if (ExportFolder(dataset, artifactsDirectory) is not { } folder)
        {
            return ImageNetResNet18.Fingerprint;
        }
        var exported = OpenExport(Transfer(dataset), folder);
        return ContentHash.OfText($"{ContentHash.OfFile(exported.OnnxPath)}:{exported.Card.Input}");
    }

    /// <summary>What the backbone reads, known without loading it.</summary>
    /// <exception cref="PipelineException">The other dataset has no export.</exception>
    public static InputSpec InputOf(DatasetDefinition dataset, string artifactsDirectory) =>
        WeightsFile(dataset) is not null ? WeightsInput(Transfer(dataset))
        : ExportFolder(dataset, artifactsDirectory) is { } folder ? OpenExport(Transfer(dataset), folder).Card.Input
        : ImageNetResNet18.Input;

    /// <param name="threads">ONNX Runtime threads per run; 0 lets it choose.</param>
    /// <exception cref="PipelineException">The backbone's files are missing, altered, or not a network this pipeline knows.</exception>
    public static OnnxBackbone Open(DatasetDefinition dataset, string artifactsDirectory, int threads = 0)
    {
        var transfer = Transfer(dataset);
        ModelProto classifier;
        InputSpec input;
        string where;
        if (WeightsFile(dataset) is { } weights)
        {
            input = WeightsInput(transfer);
            classifier = StateDictFile.ToOnnx(weights, transfer.Architecture!, input);
            where = weights;
        }
        else if (ExportFolder(dataset, artifactsDirectory) is { } folder)
        {
            var exported = OpenExport(transfer, folder);
            input = exported.Card.Input;
            classifier = ReadOnnx(exported.OnnxPath);
            where = exported.OnnxPath;
        }
        else
        {
            return ImageNetResNet18.Open(threads: threads);
        }
        var (backbone, dimension) = CutBeforeClassifier(classifier, where);
        return new OnnxBackbone(transfer.From, input, dimension,
            (graph, image) => graph.Append(backbone, "backbone/", new Dictionary<string, string> { [ModelCard.OnnxInput] = image })[0], threads);
    }

    /// <summary>
    /// The backbone as weights of one of our architectures, for fine-tuning in TorchSharp: the weights file, or the
    /// other dataset's exported safetensors. The caller disposes the tensors.
    /// </summary>
    /// <exception cref="PipelineException">The ImageNet backbone (ONNX only), or an export that is not of our architectures.</exception>
    public static (string Architecture, InputSpec Input, Dictionary<string, TorchSharp.torch.Tensor> Weights) Trainable(DatasetDefinition dataset, string artifactsDirectory)
    {
        var transfer = Transfer(dataset);
        if (WeightsFile(dataset) is { } weights)
        {
            return (transfer.Architecture!, WeightsInput(transfer), StateDictFile.Read(weights));
        }
        if (ExportFolder(dataset, artifactsDirectory) is not { } folder)
        {
            throw new PipelineException($"transfer.fine_tune needs a backbone TorchSharp can train; {transfer.From} is ONNX only", dataset.DefinitionPath);
        }
        var exported = OpenExport(transfer, folder);
        if (!Architectures.IsKnown(exported.Card.Architecture))
        {
            throw new PipelineException($"transfer.fine_tune trains one of our architectures ({string.Join(", ", Architectures.Names)}); {transfer.From}'s export is a {exported.Card.Architecture}", exported.Folder);
        }
        return (exported.Card.Architecture, exported.Card.Input, StateDictFile.Read(exported.WeightsPath));
    }

    /// <summary>Where the backbone comes from, for a person: the package folder, the export version, or the weights file.</summary>
    public static string Describe(DatasetDefinition dataset, string artifactsDirectory)
    {
        var transfer = Transfer(dataset);
        if (WeightsFile(dataset) is { } weights)
        {
            return $"{transfer.Architecture} weights from {DisplayPath.FromCurrentDirectory(weights)}, cut before the classifier";
        }
        if (ExportFolder(dataset, artifactsDirectory) is not { } folder)
        {
            return $"the ImageNet ResNet-18 from {DisplayPath.FromCurrentDirectory(ImageNetResNet18.Folder())} (SHA-256 checked)";
        }
        var exported = OpenExport(transfer, folder);
        return $"{transfer.From}'s export version {exported.Version} ({exported.Card.Architecture}), cut before its classifier";
    }

    /// <summary>What a weights file's network reads: as transfer says, else TorchVision's ImageNet convention for the ResNets.</summary>
    private static InputSpec WeightsInput(TransferParameters transfer)
    {
        var resnet = transfer.Architecture != "cnn";
        var normalization = transfer.Normalization ?? new NormalizationParameters { Mean = [0.485, 0.456, 0.406], Std = [0.229, 0.224, 0.225] };
        return new InputSpec(resnet ? 3 : transfer.Channels ?? 1, transfer.InputSize ?? 224,
            [.. normalization.Mean.Select(m => (float)m)], [.. normalization.Std.Select(s => (float)s)]);
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

    private static ModelProto ReadOnnx(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new PipelineException($"not an ONNX model ({e.Message})", path, e);
        }
    }

    /// <summary>
    /// The graph up to its classifier's input: our exports end in Gemm (the last Linear layer) then Softmax, and
    /// everything before that Gemm is the backbone; its input A is the bottleneck.
    /// </summary>
    /// <param name="where">The file the graph came from, for errors.</param>
    internal static (ModelProto Backbone, int Dimension) CutBeforeClassifier(ModelProto model, string where)
    {
        var producers = model.Graph.Node.SelectMany(n => n.Output.Select(o => (Output: o, Node: n))).ToDictionary(p => p.Output, p => p.Node, StringComparer.Ordinal);
        if (!producers.TryGetValue(ModelCard.OnnxOutput, out var softmax) || softmax.OpType != "Softmax"
            || !producers.TryGetValue(softmax.Input[0], out var gemm) || gemm.OpType != "Gemm" || gemm.Input.Count < 2)
        {
            throw new PipelineException($"the graph does not end in a classifier (Gemm, then Softmax answering \"{ModelCard.OnnxOutput}\"): no backbone to cut from it", where);
        }
        var weight = model.Graph.Initializer.FirstOrDefault(t => t.Name == gemm.Input[1]);
        if (weight is null || weight.Dims.Count != 2)
        {
            throw new PipelineException($"the classifier's weights ({gemm.Input[1]}) are not a matrix in the graph: no bottleneck size to read", where);
        }
        var transposed = gemm.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1;
        var dimension = (int)(transposed ? weight.Dims[1] : weight.Dims[0]);
        return (OnnxGraph.UpTo(model, gemm.Input[0], "batch", dimension), dimension);
    }
}
