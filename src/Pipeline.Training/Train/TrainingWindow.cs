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

    /// <summary>The loss summed over the window's examples.</summary>
    public double LossSum => _lossSum;

    /// <summary>The window's examples the model got right.</summary>
    public long Correct => _correct;

    public double MeanLoss => Images == 0 ? 0 : _lossSum / Images;

    public double Accuracy => Images == 0 ? 0 : (double)_correct / Images;

    public double ImagesPerSecond => Images / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

    /// <summary>Time in the window's steps: until <see cref="Stop"/>, not the evaluation after it.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>
    /// Makes the window the whole job's: its loss, correct count and images summed over every rank by
    /// <paramref name="sum"/> (an allreduce). The clock stays this rank's, so images per second become the job's.
    /// </summary>
    public void Combine(Action<Span<double>> sum)
    {
        ArgumentNullException.ThrowIfNull(sum);
        Span<double> totals = [_lossSum, _correct, Images];
        sum(totals);
        (_lossSum, _correct, Images) = (totals[0], (long)totals[1], (long)totals[2]);
    }

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
