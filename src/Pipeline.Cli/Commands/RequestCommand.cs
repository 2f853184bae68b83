using System.CommandLine;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline request IMAGE... > request.json`: the JSON instances file a client sends to :predict.</summary>
internal static class RequestCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Image files to send", Arity = ArgumentArity.OneOrMore };
        var command = new Command("request", "Write a predict request body ({\"instances\": [{\"image_bytes\": {\"b64\": ...}}]}) for the images to stdout") { images };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var instances = new JsonArray();
            foreach (var file in parse.GetValue(images)!)
            {
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(file);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new PipelineException($"cannot read: {e.Message}", file, e);
                }
                instances.Add(new JsonObject { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(bytes) } });
            }
            Console.Out.Write(new JsonObject { ["instances"] = instances }.ToJsonString() + "\n");
            return 0;
        }));
        return command;
    }
}
