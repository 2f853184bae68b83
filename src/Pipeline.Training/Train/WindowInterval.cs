namespace Pipeline.Training.Train;

/// <summary>The mean loss and accuracy of a train window's examples since the last <see cref="Take"/> (a new window starts from nothing).</summary>
internal sealed class WindowInterval
{
    private TrainingWindow? _window;
    private double _lossSum;
    private long _correct;
    private long _images;

    public (double Loss, double Accuracy) Take(TrainingWindow window)
    {
        if (!ReferenceEquals(window, _window))
        {
            (_window, _lossSum, _correct, _images) = (window, 0, 0, 0);
        }
        var images = window.Images - _images;
        var result = images == 0 ? (0.0, 0.0) : ((window.LossSum - _lossSum) / images, (double)(window.Correct - _correct) / images);
        (_lossSum, _correct, _images) = (window.LossSum, window.Correct, window.Images);
        return result;
    }
}
