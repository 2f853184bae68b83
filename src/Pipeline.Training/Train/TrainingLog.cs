using TorchSharp;

namespace Pipeline.Training.Train;

/// <summary>Where the loop reports: the progress bar or lines, and TensorBoard scalars.</summary>
public sealed class TrainingLog
{
    private readonly TorchSharp.Modules.SummaryWriter? _tensorboard;

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

    /// <summary>The scalars TensorBoard plots: losses, accuracies, learning rate and throughput.</summary>
    /// <param name="imagesPerSecond">Training throughput since the previous evaluation.</param>
    public void Evaluated(HistoryPoint point, double imagesPerSecond)
    {
        if (_tensorboard is null)
        {
            return;
        }
        _tensorboard.add_scalar("train/loss", (float)point.TrainLoss, point.Step);
        _tensorboard.add_scalar("train/accuracy", (float)point.TrainAccuracy, point.Step);
        _tensorboard.add_scalar("eval/loss", (float)point.EvalLoss, point.Step);
        _tensorboard.add_scalar("eval/accuracy", (float)point.EvalAccuracy, point.Step);
        _tensorboard.add_scalar("learning_rate", (float)point.LearningRate, point.Step);
        _tensorboard.add_scalar("images_per_second", (float)imagesPerSecond, point.Step);
    }
}
