using System.CommandLine;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline schema`: the JSON Schema of dataset.json, generated from the parameter records the loader reads.</summary>
internal static class SchemaCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--output", "-o") { Description = $"Write it to this file (e.g. datasets/{DatasetSchema.FileName}) instead of standard output" };
        var command = new Command("schema", "Print the JSON Schema of dataset.json (keys, types, accepted names and their documentation)") { output };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var text = DatasetSchema.Text();
            if (parse.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, text);
            }
            else
            {
                Console.Write(text);
            }
            return 0;
        }));
        return command;
    }
}
