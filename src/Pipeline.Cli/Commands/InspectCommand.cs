using System.CommandLine;
using Pipeline.Core.Records;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline inspect FILE.tfrecord`: each tf.train.Example as one JSON line.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "A TFRecord file of tf.train.Example" };
        var limit = new Option<int?>("--limit", "-n") { Description = "Print at most N records" };
        var bytes = new Option<bool>("--bytes") { Description = "Print binary values in full (base64) instead of length and sha256 prefix" };
        var command = new Command("inspect", "Print the Examples in a TFRecord file as JSON lines") { file, limit, bytes };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new Pipeline.Core.Engine.PipelineException("file not found", path);
            }
            var max = parse.GetValue(limit) ?? int.MaxValue;
            using var reader = TfRecordReader.Open(path);
            var count = 0;
            while (count < max && reader.TryRead(out var record))
            {
                Console.WriteLine(ExampleJson.Format(record, path, parse.GetValue(bytes)));
                count++;
            }
            return 0;
        }));
        return command;
    }
}
