using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Serving.Export;

namespace Pipeline.Serving.Prediction;

/// <summary>
/// An exported model served by ONNX Runtime: encoded images in, predictions out. No libtorch and no training code.
/// Thread-safe: concurrent callers share one session (ONNX Runtime's Run is thread-safe) and each decodes on its own thread.
/// </summary>
public sealed class OnnxClassifier : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ThreadLocal<Dictionary<long, InputImageDecoder>> _decoders = new(() => []);
    private readonly long _maxPixels;
    private readonly IReadOnlyList<string>? _formats;

    private OnnxClassifier(ExportedModel model, InferenceSession session, long maxPixels, IReadOnlyList<string>? formats, TimeSpan loadTime)
    {
        Model = model;
        _session = session;
        _maxPixels = maxPixels;
        _formats = formats;
        LoadTime = loadTime;
    }

    public ExportedModel Model { get; }

    public ModelCard Card => Model.Card;

    /// <summary>How long opening the ONNX graph took.</summary>
    public TimeSpan LoadTime { get; }

    /// <param name="threads">Threads ONNX Runtime uses inside one prediction; 0 lets it choose (one per core).</param>
    /// <param name="maxPixels">Images larger than this are refused from their header, before decoding.</param>
    /// <param name="formats">The image formats it decodes (<see cref="ImageFormats"/>); null: all of them.</param>
    /// <exception cref="PipelineException">The graph cannot be loaded, or does not have the card's input and output.</exception>
    public static OnnxClassifier Load(ExportedModel model, int threads = 0, long maxPixels = InputImageDecoder.DefaultMaxPixels, IReadOnlyList<string>? formats = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var clock = Stopwatch.StartNew();
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
        InferenceSession session;
        try
        {
            session = new InferenceSession(model.OnnxPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new PipelineException($"ONNX Runtime cannot load the model: {e.Message}", model.OnnxPath, e);
        }
        var input = model.Card.Input;
        if (!session.InputMetadata.TryGetValue(ModelCard.OnnxInput, out var inputInfo)
            || inputInfo.Dimensions.Length != 4 || inputInfo.Dimensions[1] != input.Channels
            || inputInfo.Dimensions[2] != input.Size || inputInfo.Dimensions[3] != input.Size
            || !session.OutputMetadata.TryGetValue(ModelCard.OnnxOutput, out var outputInfo)
            || outputInfo.Dimensions.Length != 2 || outputInfo.Dimensions[1] != model.Card.Classes.Count)
        {
            session.Dispose();
            throw new PipelineException($"the graph does not read \"{ModelCard.OnnxInput}\" [batch, {input.Channels}, {input.Size}, {input.Size}] and answer "
                + $"\"{ModelCard.OnnxOutput}\" [batch, {model.Card.Classes.Count}] as {ModelCard.FileName} says; rebuild the export with --target=Export --force",
                model.OnnxPath);
        }
        return new OnnxClassifier(model, session, maxPixels, formats, clock.Elapsed);
    }

    /// <summary>Predicts each image in one batch.</summary>
    /// <param name="names">What each image is called in errors ("shoe.png", "instance 2").</param>
    /// <param name="maxPixels">A tighter limit for this call than the one the classifier was loaded with (a server's own).</param>
    /// <exception cref="BadImageException">An image cannot be decoded or is too large; the message names it.</exception>
    public IReadOnlyList<Prediction> Predict(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string> names, long maxPixels = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(names);
        return Predict([.. images.Select((image, i) => new ModelInput(names[i], image))], maxPixels);
    }

    /// <summary>Predicts each instance in one batch: images are decoded, tensors taken as they are.</summary>
    /// <param name="maxPixels">As for the overload with images.</param>
    /// <exception cref="BadImageException">An image cannot be decoded or is too large; the message names it.</exception>
    /// <exception cref="ArgumentException">A tensor does not hold Channels × Size × Size values (a caller's bug: requests are checked as they are read).</exception>
    public IReadOnlyList<Prediction> Predict(IReadOnlyList<ModelInput> instances, long maxPixels = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(instances);
        if (instances.Count == 0)
        {
            return [];
        }
        var perImage = Card.Input.ValuesPerImage;
        var input = new float[instances.Count * perImage];
        InputImageDecoder? decoder = null;
        for (var i = 0; i < instances.Count; i++)
        {
            var destination = input.AsSpan(i * perImage, perImage);
            if (instances[i].Values is { } values)
            {
                if (values.Length != perImage)
                {
                    throw new ArgumentException($"{instances[i].Name} holds {values.Length} values; the input needs {perImage}", nameof(instances));
                }
                values.CopyTo(destination);
            }
            else
            {
                decoder ??= Decoder(Math.Min(maxPixels, _maxPixels));
                decoder.Decode(instances[i].Image.Span, destination, instances[i].Name);
            }
        }
        return ToPredictions(Probabilities(input, instances.Count));
    }

    /// <summary>Each image's width × height from its header, without decoding: what predicting them will cost.</summary>
    /// <param name="maxPixels">As for <see cref="Predict"/>.</param>
    /// <exception cref="BadImageException">An image is not one we can read, or is too large; the message names it.</exception>
    public long[] HeaderPixels(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string> names, long maxPixels = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(names);
        return HeaderPixels([.. images.Select((image, i) => new ModelInput(names[i], image))], maxPixels);
    }

    /// <summary>As the overload with images; a tensor is not decoded, so it costs no pixels.</summary>
    public long[] HeaderPixels(IReadOnlyList<ModelInput> instances, long maxPixels = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(instances);
        var decoder = Decoder(Math.Min(maxPixels, _maxPixels));
        return [.. instances.Select(i => i.IsTensor ? 0 : decoder.HeaderPixels(i.Image.Span, i.Name))];
    }

    /// <summary>Runs the graph on already prepared input (count × Channels × Size × Size normalized floats) and returns count × classes probabilities.</summary>
    public float[] Probabilities(float[] input, int count)
    {
        ArgumentNullException.ThrowIfNull(input);
        var spec = Card.Input;
        if (input.Length != count * spec.ValuesPerImage)
        {
            throw new ArgumentException($"{input.Length} values for {count} images of {spec.ValuesPerImage}", nameof(input));
        }
        using var tensor = OrtValue.CreateTensorValueFromMemory(input, [count, spec.Channels, spec.Size, spec.Size]);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [ModelCard.OnnxInput], [tensor], [ModelCard.OnnxOutput]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>This thread's decoder for a pixel limit (a decoder's limit is fixed; a server uses one or two).</summary>
    private InputImageDecoder Decoder(long maxPixels)
    {
        var decoders = _decoders.Value!;
        if (!decoders.TryGetValue(maxPixels, out var decoder))
        {
            decoders[maxPixels] = decoder = new InputImageDecoder(Card.Input, maxPixels, _formats);
        }
        return decoder;
    }

    private Prediction[] ToPredictions(float[] probabilities)
    {
        var classes = Card.Classes.Count;
        var predictions = new Prediction[probabilities.Length / classes];
        for (var i = 0; i < predictions.Length; i++)
        {
            var row = probabilities.AsSpan(i * classes, classes).ToArray();
            var best = 0;
            for (var c = 1; c < classes; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }
            predictions[i] = new Prediction(best, Card.Classes[best], row);
        }
        return predictions;
    }

    public void Dispose()
    {
        _session.Dispose();
        _decoders.Dispose();
    }
}
