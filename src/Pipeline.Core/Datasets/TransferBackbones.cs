namespace Pipeline.Core.Datasets;

/// <summary>The names transfer.from accepts.</summary>
public static class TransferBackbones
{
    /// <summary>The ImageNet-trained ResNet-18 of the package Microsoft.ML.DnnImageFeaturizer.ResNet18, run by ONNX Runtime.</summary>
    public const string ImageNetResNet18 = "imagenet-resnet18";
}
