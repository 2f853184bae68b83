using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Pipeline.Cli.Tests.TestSupport;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>The report page, written after an experiment grid and loaded in a real browser.</summary>
public sealed class ReportCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [ChromiumFact]
    public void The_report_renders_in_headless_chromium_with_every_section_and_no_console_errors()
    {
        var dataset = ShapesDataset.Write(_dir, train: 120, test: 60);
        string[] common = ["--root", _dir.Path, "--dataset", dataset];
        // Few steps, so that the model still makes mistakes for the gallery.
        var grid = PipelineCommand.Run(["exp", "run", "-S", "train.train_steps=4,8", "-S", "train.steps_per_eval=2", "--cache", _dir.Combine("cache"), .. common]);
        Assert.True(grid.ExitCode == 0, grid.Error + grid.Out);
        var page = _dir.Combine($"artifacts/{dataset}/report/index.html");
        Assert.Contains($"Report: ", grid.Out, StringComparison.Ordinal);
        var mistakes = JsonNode.Parse(File.ReadAllText(_dir.Combine($"artifacts/{dataset}/eval/mistakes.json")))!["mistakes"]!.AsArray();
        Assert.NotEmpty(mistakes);

        var (dom, log) = HeadlessChromium.DumpDom(page);

        Assert.Equal(6, Count(dom, "<tr class=\"stage (fresh|stale)\""));
        Assert.Equal(4, Count(dom, "<tr class=\"stage fresh\""));
        Assert.Contains("<tr data-metric=\"accuracy\">", dom, StringComparison.Ordinal);
        Assert.Contains("Parameters changed since the previous run: <code>train.train_steps</code> 4 → 8.", dom, StringComparison.Ordinal);
        Assert.Equal(2, Count(dom, "<svg"));
        Assert.Contains("2 runs, by step", dom, StringComparison.Ordinal);
        Assert.Equal(3, Count(dom, "<th class=\"column\">"));
        Assert.Equal(3 + 1, Count(Section(dom, "per-class"), "<tr>"));
        Assert.Equal(mistakes.Count, Count(dom, "<figure class=\"mistake\">"));
        // Every image decoded: the page marks one that did not.
        Assert.DoesNotContain("broken", Section(dom, "mistakes").Replace("classList.add('broken')", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotMatch("CONSOLE|Uncaught|Failed to load resource", log);

        var png = _dir.Combine("report.png");
        HeadlessChromium.Screenshot(page, png);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 20_000, $"the screenshot has only {bytes.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
    }

    private static int Count(string text, string pattern) => Regex.Matches(text, pattern).Count;

    /// <summary>The element (a section or a table) with the id, whole.</summary>
    private static string Section(string dom, string id) =>
        Regex.Match(dom, $"<(?<tag>section|table) id=\"{Regex.Escape(id)}\">.*?</\\k<tag>>", RegexOptions.Singleline, TimeSpan.FromSeconds(5)) is { Success: true } m
            ? m.Value
            : throw new Xunit.Sdk.XunitException($"the page has no element with id \"{id}\"");
}
