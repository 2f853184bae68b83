using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline status`: one line per stage, fresh or stale, and why; --json for scripts and CI.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var set = CommonOptions.Set();
        var json = new Option<bool>("--json") { Description = "Print JSON: every stage with fresh (true/false), the stages it reads, and the reasons" };
        var command = new Command("status", "Show which stages are fresh or stale, and why") { dataset, root, artifacts, set, json };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            // With --json, standard output holds the JSON alone; anything the engine says goes to standard error.
            Action<string> log = parse.GetValue(json) ? Console.Error.WriteLine : Console.WriteLine;
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, log,
                CommonOptions.ArtifactsRoot(parse, artifacts), overrides: CommonOptions.Overrides(parse, set));
            Console.Write(parse.GetValue(json)
                ? ChainGraph.Json(pipeline.Dataset.Name, ChainGraph.Nodes(pipeline)).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n"
                : StatusTable.Render(pipeline));
            return 0;
        }));
        return command;
    }
}
