using Pipeline.Training.Evaluation;

namespace Pipeline.Training.Tests.Evaluation;

public sealed class ClassificationMetricsAccumulatorTests
{
    private const int Precision = 12;

    [Fact]
    public void Perfect_predictions_score_one_everywhere_and_fill_only_the_diagonal()
    {
        var metrics = Compute(3, [(0, 0), (1, 1), (2, 2), (2, 2)]);

        Assert.Equal(4, metrics.ExampleCount);
        Assert.Equal(1.0, metrics.Accuracy);
        Assert.All(metrics.PerClass, m => Assert.Equal((1.0, 1.0, 1.0), (m.Precision, m.Recall, m.F1)));
        Assert.Equal([1L, 1, 2], metrics.PerClass.Select(m => m.Support));
        Assert.Equal((1.0, 1.0, 1.0), (metrics.MacroPrecision, metrics.MacroRecall, metrics.MacroF1));
        Assert.Equal(Rows([1, 0, 0], [0, 1, 0], [0, 0, 2]), metrics.Confusion);
        Assert.Equal(Math.Log(Math.Exp(Hot) + 2) - Hot, metrics.MeanLoss, Precision);
    }

    [Fact]
    public void All_wrong_predictions_score_zero_and_leave_the_diagonal_empty()
    {
        var metrics = Compute(3, [(0, 1), (1, 2), (2, 0), (2, 1)]);

        Assert.Equal(0.0, metrics.Accuracy);
        Assert.All(metrics.PerClass, m => Assert.Equal((0.0, 0.0, 0.0), (m.Precision, m.Recall, m.F1)));
        Assert.Equal((0.0, 0.0, 0.0), (metrics.MacroPrecision, metrics.MacroRecall, metrics.MacroF1));
        Assert.Equal(Rows([0, 1, 0], [0, 0, 1], [1, 1, 0]), metrics.Confusion);
        Assert.Equal(Math.Log(Math.Exp(Hot) + 2), metrics.MeanLoss, Precision);
    }

    [Fact]
    public void Three_classes_give_the_hand_computed_precision_recall_f1_and_confusion_matrix()
    {
        var metrics = ThreeClassCase();

        // Rows are true classes: class 0 has 3 right and 1 taken for class 1, and so on.
        Assert.Equal(Rows([3, 1, 0], [2, 2, 0], [0, 1, 1]), metrics.Confusion);
        Assert.Equal(0.6, metrics.Accuracy, Precision);
        AssertClass(metrics.PerClass[0], precision: 3 / 5.0, recall: 3 / 4.0, f1: 2 / 3.0, support: 4, predicted: 5);
        AssertClass(metrics.PerClass[1], precision: 2 / 4.0, recall: 2 / 4.0, f1: 0.5, support: 4, predicted: 4);
        AssertClass(metrics.PerClass[2], precision: 1.0, recall: 1 / 2.0, f1: 2 / 3.0, support: 2, predicted: 1);
        Assert.Equal(0.7, metrics.MacroPrecision, Precision);
        Assert.Equal((0.75 + 0.5 + 0.5) / 3, metrics.MacroRecall, Precision);
        Assert.Equal((2 / 3.0 + 0.5 + 2 / 3.0) / 3, metrics.MacroF1, Precision);
        // Every example's correct logit is Hot or 0 against two others at 0 or Hot.
        Assert.Equal(Math.Log(Math.Exp(Hot) + 2) - Hot * 0.6, metrics.MeanLoss, Precision);
        Assert.Null(metrics.Top5Accuracy);
    }

    [Fact]
    public void A_class_never_predicted_has_precision_zero_not_NaN()
    {
        var metrics = Compute(3, [(0, 0), (1, 0), (2, 2)]);

        Assert.Equal(0, metrics.PerClass[1].Predicted);
        Assert.Equal(0.0, metrics.PerClass[1].Precision);
        Assert.Equal(0.0, metrics.PerClass[1].F1);
        Assert.False(double.IsNaN(metrics.MacroPrecision));
    }

    [Fact]
    public void Macro_averages_leave_out_classes_that_are_neither_targets_nor_predictions()
    {
        // Class 3 never occurs: averaging its zeros in would punish the model for a class the split lacks.
        var metrics = Compute(4, [(0, 0), (1, 1), (2, 1)]);

        Assert.Equal((1.0 + 0.5 + 0.0) / 3, metrics.MacroPrecision, Precision);
        Assert.Equal((1.0 + 1.0 + 0.0) / 3, metrics.MacroRecall, Precision);
    }

    [Fact]
    public void Top5_is_reported_only_with_more_than_five_classes()
    {
        Assert.Null(Compute(5, [(0, 1)]).Top5Accuracy);
        Assert.Equal(1.0, Compute(6, [(0, 1)]).Top5Accuracy);
    }

    [Fact]
    public void Top5_counts_a_target_ranked_fifth_and_not_one_ranked_sixth()
    {
        var accumulator = new ClassificationMetricsAccumulator(7);
        float[] logits = [7, 6, 5, 4, 3, 2, 1];

        accumulator.Add(logits, [4L]); // fifth highest
        accumulator.Add(logits, [5L]); // sixth highest
        var metrics = accumulator.Compute();

        Assert.Equal(0.5, metrics.Top5Accuracy);
        Assert.Equal(0.0, metrics.Accuracy);
    }

    [Fact]
    public void Ties_go_to_the_lower_class_index_as_torch_argmax_does()
    {
        var accumulator = new ClassificationMetricsAccumulator(3);

        accumulator.Add([1f, 1f, 0f], [1L]);
        var metrics = accumulator.Compute();

        Assert.Equal(1, metrics.Confusion[1][0]);
        Assert.Equal(0.0, metrics.Accuracy);
    }

    [Fact]
    public void Loss_is_cross_entropy_and_stays_finite_for_huge_logits()
    {
        var accumulator = new ClassificationMetricsAccumulator(2);

        accumulator.Add([0f, 0f, 1000f, 0f], [0L, 1L]);
        var metrics = accumulator.Compute();

        Assert.Equal((Math.Log(2) + 1000) / 2, metrics.MeanLoss, Precision);
    }

    [Fact]
    public void Feeding_batch_by_batch_gives_exactly_what_one_batch_gives()
    {
        const int classes = 12;
        var (logits, targets) = RandomBatch(classes, 101, seed: 7);
        var whole = new ClassificationMetricsAccumulator(classes);
        whole.Add(logits, targets);
        var batched = new ClassificationMetricsAccumulator(classes);
        for (var start = 0; start < targets.Length; start += 8)
        {
            var count = Math.Min(8, targets.Length - start);
            batched.Add(logits.AsSpan(start * classes, count * classes), targets.AsSpan(start, count));
        }

        var expected = whole.Compute();
        var actual = batched.Compute();

        Assert.Equal(expected.MeanLoss, actual.MeanLoss);
        Assert.Equal(expected.Accuracy, actual.Accuracy);
        Assert.Equal(expected.Top5Accuracy, actual.Top5Accuracy);
        Assert.Equal(expected.PerClass, actual.PerClass);
        Assert.Equal(expected.Confusion, actual.Confusion);
        Assert.Equal((expected.MacroPrecision, expected.MacroRecall, expected.MacroF1), (actual.MacroPrecision, actual.MacroRecall, actual.MacroF1));
    }

    [Fact]
    public void A_target_outside_the_classes_is_rejected_with_its_position()
    {
        var accumulator = new ClassificationMetricsAccumulator(3);
        accumulator.Add([1f, 0f, 0f], [0L]);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => accumulator.Add([1f, 0f, 0f, 1f, 0f, 0f], [0L, 3L]));

        Assert.Contains("example 2: target 3 is not a class index (0 to 2)", error.Message);
        Assert.Equal(1, accumulator.ExampleCount);
    }

    [Fact]
    public void Logits_that_do_not_match_targets_times_classes_are_rejected()
    {
        var accumulator = new ClassificationMetricsAccumulator(3);

        var error = Assert.Throws<ArgumentException>(() => accumulator.Add([1f, 0f, 0f, 1f], [0L]));

        Assert.Contains("logits hold 4 values, but 1 targets × 3 classes need 3", error.Message);
    }

    [Fact]
    public void A_batch_with_non_finite_logits_is_rejected_whole_rather_than_averaged_into_NaN()
    {
        var accumulator = new ClassificationMetricsAccumulator(2);

        var error = Assert.Throws<ArgumentException>(() => accumulator.Add([1f, 0f, float.NaN, 0f], [0L, 1L]));

        Assert.Contains("example 1: logit 0 is NaN", error.Message);
        Assert.Equal(0, accumulator.ExampleCount);
    }

    [Fact]
    public void Computing_with_no_examples_says_the_split_is_empty()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ClassificationMetricsAccumulator(3).Compute());

        Assert.Contains("split is empty", error.Message);
    }

    /// <summary>The logit given to the predicted class; every other class gets 0.</summary>
    internal const float Hot = 2f;

    /// <summary>Ten examples over three classes with the confusion matrix [[3,1,0],[2,2,0],[0,1,1]].</summary>
    internal static ClassificationMetrics ThreeClassCase() => Compute(3,
    [
        (0, 0), (0, 0), (0, 0), (0, 1),
        (1, 1), (1, 1), (1, 0), (1, 0),
        (2, 2), (2, 1),
    ]);

    /// <summary>Metrics for (true, predicted) pairs, each example's logits one-hot at the prediction.</summary>
    internal static ClassificationMetrics Compute(int classes, (int True, int Predicted)[] examples)
    {
        var logits = new float[examples.Length * classes];
        for (var i = 0; i < examples.Length; i++)
        {
            logits[i * classes + examples[i].Predicted] = Hot;
        }
        var accumulator = new ClassificationMetricsAccumulator(classes);
        accumulator.Add(logits, examples.Select(e => (long)e.True).ToArray());
        return accumulator.Compute();
    }

    internal static (float[] Logits, long[] Targets) RandomBatch(int classes, int count, int seed)
    {
        var random = new Random(seed);
        var logits = Enumerable.Range(0, count * classes).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
        var targets = Enumerable.Range(0, count).Select(_ => (long)random.Next(classes)).ToArray();
        return (logits, targets);
    }

    private static IReadOnlyList<IReadOnlyList<long>> Rows(params long[][] rows) => rows;

    private static void AssertClass(ClassMetrics actual, double precision, double recall, double f1, long support, long predicted)
    {
        Assert.Equal(precision, actual.Precision, Precision);
        Assert.Equal(recall, actual.Recall, Precision);
        Assert.Equal(f1, actual.F1, Precision);
        Assert.Equal(support, actual.Support);
        Assert.Equal(predicted, actual.Predicted);
    }
}
