namespace Pipeline.Core.Datasets;

/// <summary>
/// What transfer.from names, parsed once: the ImageNet ResNet-18, another dataset's latest export, or a state dict
/// file. A closed set: code that needs the backbone switches over the three kinds instead of testing string prefixes.
/// </summary>
public abstract record BackboneSource
{
    private BackboneSource()
    {
    }

    /// <summary>The ImageNet-trained ResNet-18 of the package Microsoft.ML.DnnImageFeaturizer.ResNet18, run by ONNX Runtime.</summary>
    public sealed record ImageNet : BackboneSource
    {
        public const string Name = "imagenet-resnet18";
    }

    /// <summary>"dataset:NAME": the latest export of another dataset of this pipeline (artifacts/NAME/export), cut before its classifier.</summary>
    public sealed record DatasetExport(string Dataset) : BackboneSource
    {
        public const string Prefix = "dataset:";
    }

    /// <summary>"weights:PATH": a state dict file (PyTorch .pt/.pth or safetensors), relative to dataset.json's folder.</summary>
    public sealed record WeightsFile(string Path) : BackboneSource
    {
        public const string Prefix = "weights:";
    }

    /// <summary>The sources, as an error message lists them.</summary>
    public const string Known = $"{ImageNet.Name}, {DatasetExport.Prefix}NAME (the latest export of datasets/NAME), or {WeightsFile.Prefix}PATH (a .pt, .pth or .safetensors state dict, with transfer.architecture)";

    /// <summary>The source transfer.from names, or null when it names none of the three kinds.</summary>
    public static BackboneSource? Parse(string from) =>
        from == ImageNet.Name ? new ImageNet()
        : from.StartsWith(DatasetExport.Prefix, StringComparison.Ordinal) ? new DatasetExport(from[DatasetExport.Prefix.Length..])
        : from.StartsWith(WeightsFile.Prefix, StringComparison.Ordinal) ? new WeightsFile(from[WeightsFile.Prefix.Length..])
        : null;
}
