using System.Globalization;
using Pipeline.Core.Engine;
using ScottPlot;
using SkiaSharp;

namespace Pipeline.Training.Evaluation;

/// <summary>confusion.png: a heat map of the confusion matrix, true class down, predicted class across, counts in the cells.</summary>
/// <remarks>
/// Colours are row-normalized (each cell's share of its true class), so a small class's mistakes show as clearly as a
/// large one's; the title says so. Counts are written in the cells while they stay legible (up to 30 classes).
/// </remarks>
public static class ConfusionMatrixPlot
{
    public const int Width = 1000;
    public const int Height = 900;

    private const int CountsWrittenUpTo = 30;

    private const int LongestLabel = 24;

    /// <summary>Renders the plot and moves it into place at <paramref name="path"/> in one step.</summary>
    public static void Write(string path, ClassificationMetrics metrics, IReadOnlyList<string> labels, string title) =>
        AtomicFile.WriteAllBytes(path, Render(metrics, labels, title));

    /// <summary>The PNG bytes of the plot; <paramref name="title"/> names what was evaluated, e.g. "fashion-mnist, test split".</summary>
    public static byte[] Render(ClassificationMetrics metrics, IReadOnlyList<string> labels, string title)
    {
        var n = metrics.ClassCount;
        if (labels.Count != n)
        {
            throw new ArgumentException($"{labels.Count} labels for {n} classes: pass labels.txt of the model's dataset", nameof(labels));
        }

        var shares = new double[n, n];
        for (var t = 0; t < n; t++)
        {
            var support = metrics.PerClass[t].Support;
            for (var p = 0; p < n; p++)
            {
                shares[t, p] = support == 0 ? 0 : (double)metrics.Confusion[t][p] / support;
            }
        }

        using var plot = new Plot();
        plot.Font.Set(PlotFont.Name);

        // Heatmap row 0 is drawn at the top, so true class 0 heads the rows as in a printed matrix.
        var heatmap = plot.Add.Heatmap(shares);
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed();
        heatmap.Rectangle = new CoordinateRect(0, n, 0, n);
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        plot.Add.ColorBar(heatmap).Label = "share of the true class";

        if (n <= CountsWrittenUpTo)
        {
            var fontSize = Math.Clamp(160f / n, 9f, 16f);
            for (var t = 0; t < n; t++)
            {
                for (var p = 0; p < n; p++)
                {
                    var count = plot.Add.Text(metrics.Confusion[t][p].ToString("N0", CultureInfo.InvariantCulture), p + 0.5, n - t - 0.5);
                    count.Alignment = Alignment.MiddleCenter;
                    count.LabelFontSize = fontSize;
                    count.LabelFontColor = shares[t, p] > 0.5 ? Colors.White : Colors.Black;
                }
            }
        }

        var names = labels.Select(Shorten).ToArray();
        var predictedTicks = new ScottPlot.TickGenerators.NumericManual();
        var trueTicks = new ScottPlot.TickGenerators.NumericManual();
        for (var c = 0; c < n; c++)
        {
            predictedTicks.AddMajor(c + 0.5, names[c]);
            trueTicks.AddMajor(n - c - 0.5, names[c]);
        }
        var tickFontSize = Math.Clamp(500f / n, 7f, 12f);
        plot.Axes.Bottom.TickGenerator = predictedTicks;
        plot.Axes.Left.TickGenerator = trueTicks;
        plot.Axes.Left.TickLabelStyle.FontSize = tickFontSize;
        plot.Axes.Bottom.TickLabelStyle.FontSize = tickFontSize;
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.TickLabelStyle.OffsetY = 4;
        // ScottPlot sizes the bottom axis for level labels; slanted ones need their diagonal's height, plus the axis title.
        plot.Axes.Bottom.MinimumSize = WidestLabel(names, tickFontSize) * MathF.Sqrt(0.5f) + tickFontSize + 50;
        plot.Axes.SetLimits(0, n, 0, n);
        plot.Grid.IsVisible = false;

        plot.Title($"{title}: confusion matrix, {metrics.ExampleCount.ToString("N0", CultureInfo.InvariantCulture)} examples (colour: share of the true class)");
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>A label short enough to leave room for the matrix, keeping both ends, where class names usually differ.</summary>
    private static string Shorten(string label) =>
        label.Length <= LongestLabel ? label : string.Concat(label.AsSpan(0, LongestLabel / 2 - 1), "…", label.AsSpan(label.Length - LongestLabel / 2));

    private static float WidestLabel(IEnumerable<string> labels, float fontSize)
    {
        using var font = new SKFont(Fonts.GetTypeface(PlotFont.Name, bold: false, italic: false), fontSize);
        return labels.Max(label => font.MeasureText(label));
    }
}
