namespace Pipeline.Core.Datasets;

/// <summary>What transfer.from accepts.</summary>
public static class TransferBackbones
{
    /// <summary>The ImageNet-trained ResNet-18 of the package Microsoft.ML.DnnImageFeaturizer.ResNet18, run by ONNX Runtime.</summary>
    public const string ImageNetResNet18 = "imagenet-resnet18";

    /// <summary>"dataset:NAME": the latest export of another dataset of this pipeline (artifacts/NAME/export), cut before its classifier.</summary>
    public const string DatasetPrefix = "dataset:";

    /// <summary>"weights:PATH": a state dict file (PyTorch .pt/.pth or safetensors), relative to dataset.json's folder.</summary>
    public const string WeightsPrefix = "weights:";

    /// <summary>The file named by a "weights:PATH" source, or null for any other source.</summary>
    public static string? Weights(string from) =>
        from.StartsWith(WeightsPrefix, StringComparison.Ordinal) ? from[WeightsPrefix.Length..] : null;

    /// <summary>The dataset named by a "dataset:NAME" source, or null for any other source.</summary>
    public static string? Dataset(string from) =>
        from.StartsWith(DatasetPrefix, StringComparison.Ordinal) ? from[DatasetPrefix.Length..] : null;

    /// <summary>The sources, as an error message lists them.</summary>
    public const string Known = $"{ImageNetResNet18}, {DatasetPrefix}NAME (the latest export of datasets/NAME), or {WeightsPrefix}PATH (a .pt, .pth or .safetensors state dict, with transfer.architecture)";
}
