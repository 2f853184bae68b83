using TorchSharp;

namespace Pipeline.Training.Train;

/// <summary>Where the loop reports: the progress bar or lines, and TensorBoard scalars.</summary>
public sealed class TrainingLog
{
    private readonly TorchSharp.Modules.SummaryWriter? _tensorboard;
    private bool _stepped;

    /// <param name="tensorboardDirectory">Event files go here; null to write none.</param>
    public TrainingLog(ProgressReporter progress, string? tensorboardDirectory)
    {
        Progress = progress;
        if (tensorboardDirectory is not null)
        {
            Directory.CreateDirectory(tensorboardDirectory);
            _tensorboard = torch.utils.tensorboard.SummaryWriter(tensorboardDirectory);
        }
    }

    public ProgressReporter Progress { get; }

    public void Line(string text) => Progress.Line(text);

    /// <summary>Says that <see cref="Stepped"/> will write the train scalars, so <see cref="Evaluated"/> leaves them to it from the first evaluation on.</summary>
    public void LogsSteps() => _stepped = true;

    /// <summary>
    /// Train loss, accuracy and learning rate at <paramref name="step"/>, over the steps since the last call: written
    /// every few steps, so the curves are curves.
    /// </summary>
    public void Stepped(int step, double loss, double accuracy, double learningRate)
    {
        _stepped = true;
        if (_tensorboard is null)
        {
            return;
        }
        _tensorboard.add_scalar("train/loss", (float)loss, step);
        _tensorboard.add_scalar("train/accuracy", (float)accuracy, step);
        _tensorboard.add_scalar("learning_rate", (float)learningRate, step);
    }

    /// <summary>The scalars TensorBoard plots at an evaluation: held-out loss and accuracy, throughput, and the train window's, unless <see cref="Stepped"/> writes those.</summary>
    /// <param name="imagesPerSecond">Training throughput since the previous evaluation.</param>
    public void Evaluated(HistoryPoint point, double imagesPerSecond)
    {
        if (_tensorboard is null)
        {
            return;
        }
        if (!_stepped)
        {
            _tensorboard.add_scalar("train/loss", (float)point.TrainLoss, point.Step);
            _tensorboard.add_scalar("train/accuracy", (float)point.TrainAccuracy, point.Step);
            _tensorboard.add_scalar("learning_rate", (float)point.LearningRate, point.Step);
        }
        _tensorboard.add_scalar("eval/loss", (float)point.EvalLoss, point.Step);
        _tensorboard.add_scalar("eval/accuracy", (float)point.EvalAccuracy, point.Step);
        _tensorboard.add_scalar("images_per_second", (float)imagesPerSecond, point.Step);
    }
}
