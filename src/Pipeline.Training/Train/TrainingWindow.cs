using System.Diagnostics;
using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>Train loss, accuracy and speed over the steps since the last evaluation, as the progress line and history report them.</summary>
internal sealed class TrainingWindow
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _lossSum;
    private long _correct;

    public long Images { get; private set; }

    public double MeanLoss => Images == 0 ? 0 : _lossSum / Images;

    public double Accuracy => Images == 0 ? 0 : (double)_correct / Images;

    public double ImagesPerSecond => Images / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

    /// <summary>Stops the clock: the evaluation that follows a window is not training time.</summary>
    public void Stop() => _clock.Stop();

    /// <summary>Counts a batch of <paramref name="count"/> examples: its mean <paramref name="loss"/> and how many of its <paramref name="logits"/> pick the label.</summary>
    public void Add(Tensor loss, Tensor logits, Tensor labels, int count)
    {
        _lossSum += loss.item<float>() * count;
        _correct += logits.argmax(1).eq(labels).sum().item<long>();
        Images += count;
    }
}
