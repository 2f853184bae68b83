using Pipeline.Training.Evaluation;
using static Pipeline.Training.Tests.Evaluation.ClassificationMetricsAccumulatorTests;

namespace Pipeline.Training.Tests.Evaluation;

public sealed class EvaluationSummaryTests
{
    [Fact]
    public void Summary_names_accuracy_loss_weakest_classes_and_most_common_confusion()
    {
        var summary = EvaluationSummary.Format(ThreeClassCase(), ["cat", "dog", "fox"]);

        var loss = Math.Log(Math.Exp(Hot) + 2) - Hot * 0.6;
        Assert.Equal(
            $"10 examples: accuracy 60.00%, mean loss {loss:F4}\n" +
            "weakest classes by F1: dog 0.500, cat 0.667, fox 0.667\n" +
            "most common confusion: dog → cat: 2 (50.0% of dog)\n",
            summary);
    }

    [Fact]
    public void Summary_shows_top5_when_there_are_more_than_five_classes()
    {
        string[] labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt"];
        var examples = Enumerable.Repeat((6, 0), 3).Concat(Enumerable.Repeat((6, 6), 5)).Concat([(1, 1), (2, 4)]).ToArray();

        var summary = EvaluationSummary.Format(Compute(7, examples), labels);

        // The three Shirts taken for T-shirt/top rank their true class 7th: one hot logit, then ties broken by index.
        Assert.StartsWith("10 examples: accuracy 60.00% (top-5 70.00%), mean loss ", summary);
        Assert.Contains("most common confusion: Shirt → T-shirt/top: 3 (37.5% of Shirt)\n", summary);
        Assert.Contains("weakest classes by F1: Pullover 0.000, Shirt 0.769, Trouser 1.000\n", summary);
    }

    [Fact]
    public void Summary_of_a_perfect_model_reports_no_confusion()
    {
        var summary = EvaluationSummary.Format(Compute(2, [(0, 0), (1, 1)]), ["a", "b"]);

        Assert.EndsWith("most common confusion: none (every example is classified correctly)\n", summary);
    }
}
