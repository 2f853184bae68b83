using System.CommandLine;
using Pipeline.Cli.Commands;

namespace Pipeline.Cli;

/// <summary>The pipeline command's entry point, callable in-process by the tests.</summary>
public static class Program
{
    public static int Main(string[] args) => Create().Parse(args).Invoke();

    /// <summary>The root command with every subcommand.</summary>
    public static RootCommand Create()
    {
        var root = new RootCommand("pipeline: build-integrated ML datasets and models (build stages, status, experiments, inspect records, predict, serve)");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(RequestCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ReleaseCommand.Create());
        root.Subcommands.Add(CacheCommand.Create());
        root.Subcommands.Add(BenchmarkCommand.Create());
        root.Subcommands.Add(SchemaCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Diff("metrics"));
        root.Subcommands.Add(ExperimentCommand.Diff("params"));
        root.Subcommands.Add(DagCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(MpiCommand.Create());
        root.Subcommands.Add(TrainRankCommand.Create());
        return root;
    }
}
