namespace Pipeline.Serving.Prediction;

/// <summary>
/// One instance to predict: an encoded image, or the model's input tensor itself (Channels × Size × Size normalized
/// floats, CHW, as the model card's preprocessing makes them) from a client that prepares its own input.
/// </summary>
/// <param name="Name">What the instance is called in errors: "instances[2]", "shoe.png".</param>
public sealed record ModelInput(string Name, ReadOnlyMemory<byte> Image, float[]? Values = null)
{
    public static ModelInput Tensor(string name, float[] values) => new(name, ReadOnlyMemory<byte>.Empty, values);

    public bool IsTensor => Values is not null;
}
