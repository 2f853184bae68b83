namespace Pipeline.Core.Datasets;

/// <summary>
/// The "transfer" section of dataset.json: train only a new final layer (the head) on a frozen network's bottlenecks,
/// as TensorFlow for Poets' retrain.py does. Its defaults are retrain.py's.
/// </summary>
public sealed record TransferParameters
{
    /// <summary>
    /// The frozen backbone: "imagenet-resnet18" (the ImageNet ResNet-18 that ML.NET ships as ONNX), "dataset:NAME"
    /// (another dataset's latest export), or "weights:PATH" (a PyTorch state dict, .pt/.pth, or safetensors, of
    /// <see cref="Architecture"/>).
    /// </summary>
    public required string From { get; init; }

    /// <summary><see cref="From"/> parsed; the loader has refused any other text, so a loaded dataset always has one.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public BackboneSource Backbone => BackboneSource.Parse(From) ?? throw new InvalidOperationException($"transfer.from \"{From}\" names no backbone");

    /// <summary>For "weights:": the network the state dict is of: cnn, resnet18, resnet34 or resnet50.</summary>
    public string? Architecture { get; init; }

    /// <summary>For "weights:": the image size the network reads (default 224 for the ResNets).</summary>
    public int? InputSize { get; init; }

    /// <summary>For "weights:" with cnn: 1 or 3 (the ResNets read 3).</summary>
    public int? Channels { get; init; }

    /// <summary>For "weights:": the normalization the network was trained with (default ImageNet's for the ResNets).</summary>
    public NormalizationParameters? Normalization { get; init; }

    /// <summary>Head training steps, each on a random batch of train bottlenecks.</summary>
    public int TrainSteps { get; init; } = 4000;

    public int BatchSize { get; init; } = 100;

    /// <summary>Plain gradient descent's learning rate.</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>Measure validation accuracy and log a line every this many steps.</summary>
    public int StepsPerEval { get; init; } = 250;

    /// <summary>The held-out split measured during training; default "validation" if the dataset has one, else "test".</summary>
    public string? EvalSplit { get; init; }

    public int Seed { get; init; } = 42;

    /// <summary>Threads for the backbone (ONNX Runtime) and the head (TorchSharp); 0 means one per core.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// After the head: train the backbone's last block (a ResNet's layer4, the cnn's fc1) with the head, on the
    /// images, at a low learning rate. Only for backbones TorchSharp can train: "weights:" and "dataset:" sources.
    /// </summary>
    public FineTuneParameters? FineTune { get; init; }
}

/// <summary>transfer.fine_tune: training the backbone's last block after the head, the rest still frozen.</summary>
public sealed record FineTuneParameters
{
    public int Steps { get; init; } = 300;

    public int BatchSize { get; init; } = 32;

    /// <summary>SGD with momentum 0.9; low, so the trained block moves only a little from where it was.</summary>
    public double LearningRate { get; init; } = 0.001;
}
