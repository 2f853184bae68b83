namespace Pipeline.Core.Datasets;

/// <summary>
/// The "inference" section of dataset.json: how the trained network answers wherever the model predicts (Evaluate,
/// the exported ONNX graph and so the server, SmokePredict, `pipeline predict`). Changing it re-runs those stages, not Train.
/// </summary>
public sealed record InferenceParameters
{
    /// <summary>
    /// Test-time augmentation: each image's logits are the mean of the network's on the image and on its mirror image
    /// (left-right). The exported graph does the same, at twice the compute per prediction. Train's own evaluations
    /// measure the network alone.
    /// </summary>
    public bool Flip { get; init; }
}
