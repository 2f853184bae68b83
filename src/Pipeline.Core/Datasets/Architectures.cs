namespace Pipeline.Core.Datasets;

/// <summary>The networks the pipeline builds, trains and exports: the one list dataset.json's names are checked against.</summary>
public static class Architectures
{
    /// <summary>The labs' small two-convolution network, sized by train.input_size and train.channels.</summary>
    public const string Cnn = "cnn";

    /// <summary>Every architecture: the small cnn, then TorchVision's ResNets in its layout.</summary>
    public static readonly IReadOnlyList<string> Names = [Cnn, "resnet18", "resnet34", "resnet50"];

    public static bool IsKnown(string? name) => name is not null && Names.Contains(name);
}
