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

    /// <summary>artifacts/NAME/export for a "dataset:NAME" source.</summary>
    private static string ExportFolder(BackboneSource.DatasetExport export, string artifactsDirectory) =>
        Path.Combine(Path.GetDirectoryName(artifactsDirectory)!, export.Dataset, "export");

    /// <summary>The state dict file of a "weights:PATH" source, resolved against dataset.json's folder.</summary>
    private static string WeightsPath(DatasetDefinition dataset, BackboneSource.WeightsFile weights) => dataset.Resolve(weights.Path);

    /// <summary>
    /// The files the bottlenecks depend on besides the records: the weights file, or the other dataset's latest pointer
    /// and that version's graph and card. None for the ImageNet backbone, whose files are pinned by hash (<see cref="Parameters"/>).
    /// </summary>
    public static IEnumerable<StageInput> Inputs(DatasetDefinition dataset, string artifactsDirectory)
    {
        switch (Transfer(dataset).Backbone)
        {
            case BackboneSource.WeightsFile weights:
                yield return StageInput.File("transfer weights", WeightsPath(dataset, weights));
                break;
            case BackboneSource.DatasetExport export:
                var folder = ExportFolder(export, artifactsDirectory);
                yield return StageInput.File($"{export.Dataset}/export/{ExportedModel.LatestPointer}", Path.Combine(folder, ExportedModel.LatestPointer), BuildFirst(export));
                if (ExportedModel.Latest(folder) is { } version)
                {
                    foreach (var file in new[] { ModelCard.OnnxFile, ModelCard.FileName })
                    {
                        yield return StageInput.File($"{export.Dataset}/export/{version}/{file}", Path.Combine(folder, version.ToString(System.Globalization.CultureInfo.InvariantCulture), file));
                    }
                }
                break;
        }
    }

    /// <summary>What names the backbone among the stage's parameters (besides transfer.from and the input files).</summary>
    public static JsonNode Parameters(DatasetDefinition dataset) => Transfer(dataset).Backbone switch
    {
        BackboneSource.ImageNet => ImageNetResNet18.Fingerprint,
        BackboneSource.WeightsFile => WeightsInput(Transfer(dataset)).ToString(),
        _ => "the export's files (inputs)",
    };

    /// <summary>The backbone's identity in the bottleneck cache: its pinned files' hashes, or the graph's or weights' content and input.</summary>
    /// <exception cref="PipelineException">The other dataset has no export.</exception>
    public static string Key(DatasetDefinition dataset, string artifactsDirectory) => Transfer(dataset).Backbone switch
    {
        BackboneSource.WeightsFile weights =>
            ContentHash.OfText($"{ContentHash.OfFile(WeightsPath(dataset, weights))}:{Transfer(dataset).Architecture}:{WeightsInput(Transfer(dataset))}"),
        BackboneSource.DatasetExport export => ExportKey(OpenExport(export, artifactsDirectory)),
        _ => ImageNetResNet18.Fingerprint,
    };

    /// <summary>What the backbone reads, known without loading it.</summary>
    /// <exception cref="PipelineException">The other dataset has no export.</exception>
    public static InputSpec InputOf(DatasetDefinition dataset, string artifactsDirectory) => Transfer(dataset).Backbone switch
    {
        BackboneSource.WeightsFile => WeightsInput(Transfer(dataset)),
        BackboneSource.DatasetExport export => OpenExport(export, artifactsDirectory).Card.Input,
        _ => ImageNetResNet18.Input,
    };

    /// <param name="threads">ONNX Runtime threads per run; 0 lets it choose.</param>
    /// <exception cref="PipelineException">The backbone's files are missing, altered, or not a network this pipeline knows.</exception>
    public static OnnxBackbone Open(DatasetDefinition dataset, string artifactsDirectory, int threads = 0)
    {
        var transfer = Transfer(dataset);
        ModelProto classifier;
        InputSpec input;
        string where;
        switch (transfer.Backbone)
        {
            case BackboneSource.WeightsFile weights:
                input = WeightsInput(transfer);
                where = WeightsPath(dataset, weights);
                classifier = StateDictFile.ToOnnx(where, transfer.Architecture!, input);
                break;
            case BackboneSource.DatasetExport export:
                var exported = OpenExport(export, artifactsDirectory);
                input = exported.Card.Input;
                classifier = ReadOnnx(exported.OnnxPath);
                where = exported.OnnxPath;
                break;
            default:
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
        switch (transfer.Backbone)
        {
            case BackboneSource.WeightsFile weights:
                return (transfer.Architecture!, WeightsInput(transfer), StateDictFile.Read(WeightsPath(dataset, weights)));
            case BackboneSource.DatasetExport export:
                var exported = OpenExport(export, artifactsDirectory);
                if (!Architectures.Transferable.Contains(exported.Card.Architecture))
                {
                    throw new PipelineException($"transfer.fine_tune trains one of these architectures ({string.Join(", ", Architectures.Transferable)}); {transfer.From}'s export is a {exported.Card.Architecture}", exported.Folder);
                }
                return (exported.Card.Architecture, exported.Card.Input, StateDictFile.Read(exported.WeightsPath));
            default:
                throw new PipelineException($"transfer.fine_tune needs a backbone TorchSharp can train; {transfer.From} is ONNX only", dataset.DefinitionPath);
        }
    }

    /// <summary>Where the backbone comes from, for a person: the package folder, the export version, or the weights file.</summary>
    public static string Describe(DatasetDefinition dataset, string artifactsDirectory)
    {
        var transfer = Transfer(dataset);
        return transfer.Backbone switch
        {
            BackboneSource.WeightsFile weights => $"{transfer.Architecture} weights from {DisplayPath.FromCurrentDirectory(WeightsPath(dataset, weights))}, cut before the classifier",
            BackboneSource.DatasetExport export => DescribeExport(transfer.From, OpenExport(export, artifactsDirectory)),
            _ => $"the ImageNet ResNet-18 from {DisplayPath.FromCurrentDirectory(ImageNetResNet18.Folder())} (SHA-256 checked)",
        };
    }

    /// <summary>What a weights file's network reads: as transfer says, else TorchVision's ImageNet convention for the ResNets.</summary>
    private static InputSpec WeightsInput(TransferParameters transfer)
    {
        var resnet = transfer.Architecture != Architectures.Cnn;
        var normalization = transfer.Normalization ?? new NormalizationParameters { Mean = [0.485, 0.456, 0.406], Std = [0.229, 0.224, 0.225] };
        return new InputSpec(resnet ? 3 : transfer.Channels ?? 1, transfer.InputSize ?? 224,
            [.. normalization.Mean.Select(m => (float)m)], [.. normalization.Std.Select(s => (float)s)]);
    }

    private static string ExportKey(ExportedModel exported) => ContentHash.OfText($"{ContentHash.OfFile(exported.OnnxPath)}:{exported.Card.Input}");

    private static string DescribeExport(string from, ExportedModel exported) =>
        $"{from}'s export version {exported.Version} ({exported.Card.Architecture}), cut before its classifier";

    private static string BuildFirst(BackboneSource.DatasetExport export) =>
        $"transfer.from is {BackboneSource.DatasetExport.Prefix}{export.Dataset}, which has no export yet: build it first (./build.sh --dataset={export.Dataset} --target=Export)";

    private static ExportedModel OpenExport(BackboneSource.DatasetExport export, string artifactsDirectory)
    {
        var folder = ExportFolder(export, artifactsDirectory);
        if (ExportedModel.Latest(folder) is null)
        {
            throw new PipelineException(BuildFirst(export), folder);
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
