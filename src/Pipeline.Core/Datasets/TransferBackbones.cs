namespace Pipeline.Core.Datasets;

/// <summary>What transfer.from accepts.</summary>
public static class TransferBackbones
{
    /// <summary>The ImageNet-trained ResNet-18 of the package Microsoft.ML.DnnImageFeaturizer.ResNet18, run by ONNX Runtime.</summary>
    public const string ImageNetResNet18 = "imagenet-resnet18";

    /// <summary>"dataset:NAME": the latest export of another dataset of this pipeline (artifacts/NAME/export), cut before its classifier.</summary>
    public const string DatasetPrefix = "dataset:";

    /// <summary>The dataset named by a "dataset:NAME" source, or null for any other source.</summary>
    public static string? Dataset(string from) =>
        from.StartsWith(DatasetPrefix, StringComparison.Ordinal) ? from[DatasetPrefix.Length..] : null;

    /// <summary>The sources, as an error message lists them.</summary>
    public const string Known = $"{ImageNetResNet18}, or {DatasetPrefix}NAME (the latest export of datasets/NAME)";
}
