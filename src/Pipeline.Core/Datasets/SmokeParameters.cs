namespace Pipeline.Core.Datasets;

/// <summary>The "smoke" section of dataset.json: how SmokePredict checks the exported model.</summary>
public sealed record SmokeParameters
{
    /// <summary>Held-out images predicted from their source files: a fixed random sample of the split.</summary>
    public int Samples { get; init; } = 200;

    /// <summary>How far the sample's accuracy may be from the evaluated accuracy (a sample of 200 varies by a few points).</summary>
    public double AccuracyTolerance { get; init; } = 0.1;

    /// <summary>The largest difference allowed between ONNX Runtime's and TorchSharp's probability for any class of any image.</summary>
    public double MaxProbabilityDifference { get; init; } = 1e-4;
}
