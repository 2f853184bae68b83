using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Models;

/// <summary>Builds the network dataset.json names: "cnn", "vgg7", a small ResNet, or a ResNet in TorchVision's layout.</summary>
public static class ModelFactory
{
    public static IReadOnlyList<string> Names => Architectures.Names;

    /// <summary>
    /// Channels the model reads. TorchVision's ResNets take RGB, so grayscale images are given to them as three
    /// equal channels; that keeps their weights in TorchVision's own layout (loadable by PyTorch as they are).
    /// </summary>
    public static int InputChannels(TrainParameters train) =>
        Architectures.ReadsChannelsAsGiven(train.Model) ? train.Channels : 3;

    public static nn.Module<Tensor, Tensor> Create(TrainParameters train, int classes) => train.Model switch
    {
        "cnn" => new SmallCnn(train.Channels, train.InputSize, classes),
        "vgg7" => new Vgg7(train.Channels, train.InputSize, classes),
        "resnet8" => ResNet.Small(8, train.Channels, classes),
        "resnet14" => ResNet.Small(14, train.Channels, classes),
        "resnet20" => ResNet.Small(20, train.Channels, classes),
        "resnet18" => ResNet.ResNet18(classes),
        "resnet34" => ResNet.ResNet34(classes),
        "resnet50" => ResNet.ResNet50(classes),
        _ => throw new PipelineException($"train.model is \"{train.Model}\"; use one of: {string.Join(", ", Names)}"),
    };
}
