using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Training.Train;

/// <summary>
/// Training progress for a person: a live one-line bar in a terminal, plain periodic lines when the output is a
/// file or a CI log (where a bar would be thousands of carriage returns).
/// </summary>
public sealed class ProgressReporter
{
    private readonly TextWriter _out;
    private readonly Action<string> _lines;
    private readonly bool _live;
    private readonly TimeSpan _every;
    private readonly Stopwatch _sinceLine = Stopwatch.StartNew();
    private bool _barShown;

    /// <param name="output">Where the live bar is drawn.</param>
    /// <param name="lines">Where whole lines go (the stage's log).</param>
    /// <param name="live">Draw a bar (a terminal) rather than periodic lines.</param>
    public ProgressReporter(TextWriter output, Action<string> lines, bool live, TimeSpan? plainEvery = null)
    {
        _out = output;
        _lines = lines;
        _live = live;
        _every = plainEvery ?? TimeSpan.FromSeconds(15);
    }

    /// <summary>A bar when stdout is a terminal, lines otherwise.</summary>
    public static ProgressReporter ForConsole(Action<string> lines) => new(Console.Out, lines, !Console.IsOutputRedirected);

    public void Step(int step, int total, double imagesPerSecond, double loss, double accuracy, TimeSpan remaining)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"step {step}/{total}  {imagesPerSecond:F0} images/s  loss {loss:F4}  accuracy {accuracy:F4}  ETA {Format(remaining)}");
        if (_live)
        {
            const int width = 24;
            var filled = (int)Math.Round(width * (double)step / Math.Max(1, total));
            _out.Write($"\r  [{new string('#', filled)}{new string('.', width - filled)}] {text}   ");
            _barShown = true;
        }
        else if (_sinceLine.Elapsed >= _every || step == total)
        {
            _lines($"  {text}");
            _sinceLine.Restart();
        }
    }

    /// <summary>A line that must not be overwritten by the bar (evaluations, checkpoints).</summary>
    public void Line(string text)
    {
        if (_barShown)
        {
            _out.WriteLine();
            _barShown = false;
        }
        _lines($"  {text}");
    }

    private static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
