using System.CommandLine;
using Pipeline.Cli.Commands;

var root = new RootCommand("pipeline: build-integrated ML datasets and models (labels, TFRecord records, status, inspect)");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(StatusCommand.Create());
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(BenchmarkCommand.Create());
return root.Parse(args).Invoke();
