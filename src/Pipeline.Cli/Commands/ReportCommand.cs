using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Training.Report;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline report`: writes artifacts/&lt;dataset&gt;/report/index.html, a page to open in any browser.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var runs = new Option<string?>("--runs") { Description = "The recorded runs whose training curves to overlay, as ids separated by commas (default: the current run and the 4 before it)" };
        var command = new Command("report", "Write the dataset's report (chain, figures against the previous run, curves of recent runs, confusion matrix, per-class figures, the most confidently wrong images)")
        {
            dataset, root, artifacts, runs,
        };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine, CommonOptions.ArtifactsRoot(parse, artifacts));
            Write(pipeline, parse.GetValue(runs)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            return 0;
        }));
        return command;
    }

    /// <summary>Writes the report and says where it is.</summary>
    public static void Write(DatasetPipeline pipeline, IReadOnlyList<string>? runs = null)
    {
        var path = RunReport.Write(pipeline, runs);
        Console.WriteLine($"Report: {DisplayPath.FromCurrentDirectory(path)}");
    }

    /// <summary>After a build of <paramref name="target"/> that ran a stage: the report too, when the chain reached Evaluate.</summary>
    public static void AfterBuild(DatasetPipeline pipeline, string target, IReadOnlyList<StageOutcome> outcomes)
    {
        if (outcomes.Any(o => o.Ran) && pipeline.Chain(target).Any(s => s.Name == "evaluate"))
        {
            // The build itself succeeded: a report that cannot be written is a warning, not a failed build.
            try
            {
                Write(pipeline);
            }
            catch (Exception e) when (e is PipelineException or IOException or UnauthorizedAccessException)
            {
                Console.WriteLine($"warning: the report was not written: {e.Message}");
            }
        }
    }
}
