using System.CommandLine;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline status`: one line per stage, fresh or stale, and why.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var artifacts = CommonOptions.Artifacts();
        var command = new Command("status", "Show which stages are fresh or stale, and why") { dataset, root, artifacts };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine,
                CommonOptions.ArtifactsRoot(parse, artifacts));
            Console.Write(StatusTable.Render(pipeline));
            return 0;
        }));
        return command;
    }
}
