using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline dag`: the stage graph of a dataset, each stage with what it reads, fresh or stale, and why.</summary>
internal static class DagCommand
{
    public static Command Create()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var set = CommonOptions.Set();
        var json = new Option<bool>("--json") { Description = "Print the graph as JSON" };
        var command = new Command("dag", "Show the stage graph: each stage, the stages whose outputs it reads, and whether it is fresh") { dataset, root, artifacts, set, json };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            Action<string> log = parse.GetValue(json) ? Console.Error.WriteLine : Console.WriteLine;
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, log,
                CommonOptions.ArtifactsRoot(parse, artifacts), overrides: CommonOptions.Overrides(parse, set));
            var nodes = ChainGraph.Nodes(pipeline);
            Console.Write(parse.GetValue(json)
                ? ChainGraph.Json(pipeline.Dataset.Name, nodes).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n"
                : ChainGraph.Text(pipeline.Dataset.Name, nodes));
            return 0;
        }));
        return command;
    }
}
