namespace Pipeline.Core.Datasets;

/// <summary>The networks the pipeline builds, trains and exports: the one list dataset.json's names are checked against.</summary>
public static class Architectures
{
    /// <summary>The labs' small two-convolution network, sized by train.input_size and train.channels.</summary>
    public const string Cnn = "cnn";

    /// <summary>A VGG-style network of five 3×3 convolutions and two linear layers for small images on CPUs (the default's since issue 15).</summary>
    public const string Vgg7 = "vgg7";

    /// <summary>Every architecture: the small cnn and vgg7, He et al.'s small ResNets for small images, then TorchVision's ResNets in its layout.</summary>
    public static readonly IReadOnlyList<string> Names = [Cnn, Vgg7, "resnet8", "resnet14", "resnet20", "resnet18", "resnet34", "resnet50"];

    /// <summary>The small ResNets (6n + 2 layers, three stages, a 3×3 stem).</summary>
    public static readonly IReadOnlyList<string> SmallResNets = ["resnet8", "resnet14", "resnet20"];

    /// <summary>The networks made for small images, which read train.channels as they are (TorchVision's ResNets read RGB).</summary>
    public static bool ReadsChannelsAsGiven(string name) => name is Cnn or Vgg7 || SmallResNets.Contains(name);

    /// <summary>
    /// The architectures a transfer dataset can take as a backbone from a weights file, or fine-tune from another
    /// dataset's export: the cnn and TorchVision's ResNets (vgg7 and the small ResNets are not wired into transfer yet).
    /// </summary>
    public static readonly IReadOnlyList<string> Transferable = [Cnn, "resnet18", "resnet34", "resnet50"];

    public static bool IsKnown(string? name) => name is not null && Names.Contains(name);
}
