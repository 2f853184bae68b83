namespace Pipeline.Training.Train;

/// <summary>
/// Train loss and accuracy over the steps since the last <see cref="Take"/>, whatever evaluations came between: fed
/// the train window after every step (a window restarts at each evaluation), it keeps each step's share.
/// </summary>
internal sealed class WindowInterval
{
    private TrainingWindow? _window;
    private double _seenLoss;
    private long _seenCorrect;
    private long _seenImages;
    private double _lossSum;
    private long _correct;
    private long _images;

    /// <summary>Counts what <paramref name="window"/> gained since the last call: call it after every step.</summary>
    public void Add(TrainingWindow window)
    {
        if (!ReferenceEquals(window, _window))
        {
            (_window, _seenLoss, _seenCorrect, _seenImages) = (window, 0, 0, 0);
        }
        _lossSum += window.LossSum - _seenLoss;
        _correct += window.Correct - _seenCorrect;
        _images += window.Images - _seenImages;
        (_seenLoss, _seenCorrect, _seenImages) = (window.LossSum, window.Correct, window.Images);
    }

    /// <summary>The mean loss and accuracy since the last call, and starts again.</summary>
    public (double Loss, double Accuracy) Take()
    {
        var result = _images == 0 ? (0.0, 0.0) : (_lossSum / _images, (double)_correct / _images);
        (_lossSum, _correct, _images) = (0, 0, 0);
        return result;
    }
}
