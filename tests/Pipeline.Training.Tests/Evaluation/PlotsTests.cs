using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Evaluation;
using Pipeline.Training.Train;
using SixLabors.ImageSharp;
using static Pipeline.Training.Tests.Evaluation.ClassificationMetricsAccumulatorTests;

namespace Pipeline.Training.Tests.Evaluation;

public sealed class PlotsTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    internal static readonly string[] FashionLabels = ["Ankle boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt/top", "Trouser"];

    [Fact]
    public void Curves_are_written_as_a_png_of_the_promised_size_with_no_temporary_file_left()
    {
        using var folder = new TempDirectory();
        var path = Path.Combine(folder.Path, "eval", "curves.png");

        TrainingCurvesPlot.Write(path, History(25), "fashion-mnist");

        AssertPng(File.ReadAllBytes(path), TrainingCurvesPlot.Width, TrainingCurvesPlot.Height);
        Assert.Equal(["curves.png"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void Curves_of_a_single_evaluation_still_render()
    {
        AssertPng(TrainingCurvesPlot.Render(History(1), "flowers"), TrainingCurvesPlot.Width, TrainingCurvesPlot.Height);
    }

    [Fact]
    public void Curves_of_an_empty_history_are_refused()
    {
        Assert.Throws<ArgumentException>(() => TrainingCurvesPlot.Render([], "flowers"));
    }

    [Fact]
    public void Confusion_matrix_is_written_as_a_png_of_the_promised_size()
    {
        using var folder = new TempDirectory();
        var path = Path.Combine(folder.Path, "confusion.png");

        ConfusionMatrixPlot.Write(path, FashionLikeMetrics(), FashionLabels, "fashion-mnist, test split");

        AssertPng(File.ReadAllBytes(path), ConfusionMatrixPlot.Width, ConfusionMatrixPlot.Height);
    }

    [Fact]
    public void Rendering_the_same_metrics_twice_gives_identical_bytes()
    {
        var metrics = FashionLikeMetrics();

        Assert.Equal(
            ConfusionMatrixPlot.Render(metrics, FashionLabels, "fashion-mnist, test split"),
            ConfusionMatrixPlot.Render(metrics, FashionLabels, "fashion-mnist, test split"));
        Assert.Equal(TrainingCurvesPlot.Render(History(10), "fashion-mnist"), TrainingCurvesPlot.Render(History(10), "fashion-mnist"));
    }

    [Fact]
    public void Confusion_matrix_of_many_classes_renders_without_cell_counts()
    {
        var labels = Enumerable.Range(0, 40).Select(i => $"class {i:D2}").ToArray();
        var examples = Enumerable.Range(0, 400).Select(i => (i % 40, i % 7 == 0 ? (i + 1) % 40 : i % 40)).ToArray();

        AssertPng(ConfusionMatrixPlot.Render(Compute(40, examples), labels, "many"), ConfusionMatrixPlot.Width, ConfusionMatrixPlot.Height);
    }

    /// <summary>A loss falling and an accuracy rising, eval a little behind train, as a real run's history looks.</summary>
    internal static HistoryPoint[] History(int rows) =>
        Enumerable.Range(1, rows).Select(i =>
        {
            var step = i * 500;
            var trainLoss = 2.3 * Math.Exp(-step / 2000.0) + 0.25;
            var evalLoss = 2.3 * Math.Exp(-step / 2000.0) + 0.32;
            return new HistoryPoint(step, trainLoss, 1 - trainLoss / 2.6, evalLoss, 1 - evalLoss / 2.7, 0.01);
        }).ToArray();

    /// <summary>Ten classes of 100 examples, mostly right, with Shirts often taken for T-shirts.</summary>
    internal static ClassificationMetrics FashionLikeMetrics()
    {
        var examples = new List<(int, int)>();
        for (var t = 0; t < 10; t++)
        {
            for (var i = 0; i < 100; i++)
            {
                var predicted = i < 85 ? t : (t + 1 + i % 9) % 10;
                examples.Add((t, t == 6 && i >= 70 ? 8 : predicted));
            }
        }
        return Compute(10, [.. examples]);
    }

    private static void AssertPng(byte[] bytes, int width, int height)
    {
        Assert.Equal(PngSignature, bytes.Take(PngSignature.Length));
        var info = Image.Identify(bytes);
        Assert.NotNull(info);
        Assert.Equal((width, height), (info.Width, info.Height));
    }
}
