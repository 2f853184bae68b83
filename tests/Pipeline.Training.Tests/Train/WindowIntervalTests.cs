using Pipeline.Training.Train;
using TorchSharp;

namespace Pipeline.Training.Tests.Train;

/// <summary>TensorBoard's 50-step train figures: every step between two looks counts once, across the evaluations that restart the window.</summary>
public sealed class WindowIntervalTests
{
    /// <summary>A step of 2 examples with mean loss <paramref name="loss"/>, <paramref name="correct"/> of them right.</summary>
    private static void Step(TrainingWindow window, float loss, int correct)
    {
        using var lossTensor = torch.tensor(loss);
        using var logits = torch.tensor(new float[] { 1, 0, 1, 0 }, [2, 2]);
        using var labels = torch.tensor(correct switch { 2 => new long[] { 0, 0 }, 1 => [0, 1], _ => [1, 1] });
        window.Add(lossTensor, logits, labels, 2);
    }

    [Fact]
    public void Steps_since_the_last_look_count_once_each_across_a_new_window()
    {
        var interval = new WindowInterval();
        var before = new TrainingWindow();
        Step(before, 1, 2);
        interval.Add(before);
        Step(before, 3, 0);
        interval.Add(before);

        Assert.Equal((2.0, 0.5), interval.Take());

        Step(before, 5, 1);
        interval.Add(before);
        // An evaluation: the loop starts a new window, which holds only the steps after it.
        var after = new TrainingWindow();
        Step(after, 7, 2);
        interval.Add(after);

        Assert.Equal((6.0, 0.75), interval.Take());
        Assert.Equal((0.0, 0.0), interval.Take());
    }
}
