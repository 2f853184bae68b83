using Pipeline.Core.Engine;
using Pipeline.Training.Train;
using ScottPlot;

namespace Pipeline.Training.Evaluation;

/// <summary>curves.png: loss and accuracy against optimizer step, train and eval, one panel above the other.</summary>
public static class TrainingCurvesPlot
{
    public const int Width = 1000;
    public const int Height = 800;

    // Markers help while points are few enough to tell apart; past that they only thicken the line.
    private const int MarkedPointsAtMost = 40;

    /// <summary>Renders the plot and moves it into place at <paramref name="path"/> in one step.</summary>
    public static void Write(string path, IReadOnlyList<HistoryPoint> history, string datasetName) =>
        AtomicFile.WriteAllBytes(path, Render(history, datasetName));

    /// <summary>The PNG bytes of the plot.</summary>
    public static byte[] Render(IReadOnlyList<HistoryPoint> history, string datasetName)
    {
        if (history.Count == 0)
        {
            throw new ArgumentException("the training history has no rows: nothing to plot", nameof(history));
        }
        var steps = history.Select(p => (double)p.Step).ToArray();

        using var loss = Panel(
            $"{datasetName}: loss", "mean cross-entropy", steps,
            history.Select(p => p.TrainLoss).ToArray(), history.Select(p => p.EvalLoss).ToArray(), Alignment.UpperRight);
        using var accuracy = Panel(
            $"{datasetName}: accuracy", "top-1 accuracy", steps,
            history.Select(p => p.TrainAccuracy).ToArray(), history.Select(p => p.EvalAccuracy).ToArray(), Alignment.LowerRight);

        var multiplot = new Multiplot(loss);
        multiplot.AddPlot(accuracy);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Rows();
        multiplot.SharedAxes.ShareX([loss, accuracy]);
        using var image = multiplot.Render(Width, Height);
        return image.GetImageBytes(ImageFormat.Png, 100);
    }

    private static Plot Panel(string title, string yLabel, double[] steps, double[] train, double[] eval, Alignment legend)
    {
        var plot = new Plot();
        plot.Font.Set(PlotFont.Name);
        AddSeries(plot, steps, train, "train", Colors.C0);
        AddSeries(plot, steps, eval, "eval", Colors.C1);
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend(legend);
        return plot;
    }

    private static void AddSeries(Plot plot, double[] steps, double[] values, string name, Color color)
    {
        var series = plot.Add.Scatter(steps, values, color);
        series.LegendText = name;
        series.LineWidth = 2;
        series.MarkerSize = steps.Length <= MarkedPointsAtMost ? 5 : 0;
    }
}
