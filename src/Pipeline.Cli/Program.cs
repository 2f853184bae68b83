using System.CommandLine;
using Pipeline.Cli.Commands;

var root = new RootCommand("pipeline: build-integrated ML datasets and models (build stages, status, inspect records, predict, serve)");
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
return root.Parse(args).Invoke();
