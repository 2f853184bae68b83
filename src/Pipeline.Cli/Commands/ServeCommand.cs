using System.CommandLine;
using Pipeline.Serving.Export;
using Pipeline.Serving.Http;
using Pipeline.Serving.Prediction;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline serve --model EXPORT`: the REST prediction server, until Ctrl+C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = PredictCommand.ModelOption();
        var name = new Option<string?>("--name") { Description = "Model name in URLs (default: the dataset's name)" };
        var port = new Option<int>("--port") { Description = "TCP port", DefaultValueFactory = _ => 8501 };
        var host = new Option<string>("--host") { Description = "Address to listen on (loopback by default; 0.0.0.0 for every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per prediction (0: one per core)", DefaultValueFactory = _ => 0 };
        var maxRequestPixels = new Option<long>("--max-request-pixels")
        {
            Description = "Width × height summed over one request's images (from their headers); more is a 400",
            DefaultValueFactory = _ => new ServerOptions("default").MaxRequestPixels,
        };
        var command = new Command("serve", "Serve an exported model over REST: POST /v1/models/NAME:predict with {\"instances\": [{\"image_bytes\": {\"b64\": ...}}]}")
        {
            model, name, port, host, threads, maxRequestPixels,
        };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var classifier = OnnxClassifier.Load(ExportedModel.Open(parse.GetValue(model)!), parse.GetValue(threads));
            var options = new ServerOptions(parse.GetValue(name) ?? classifier.Card.Dataset, parse.GetValue(host)!, parse.GetValue(port))
            {
                MaxRequestPixels = parse.GetValue(maxRequestPixels),
            };
            var server = PredictionServer.StartAsync(classifier, options, Console.Error.WriteLine).GetAwaiter().GetResult();
            var url = new Uri(server.Address, $"v1/models/{options.Name}");
            Console.WriteLine($"serving {options.Name} version {classifier.Model.Version} ({classifier.Card.Architecture}, loaded in {classifier.LoadTime.TotalSeconds:0.00} s)");
            Console.WriteLine($"  POST {url}:predict   GET {url}   GET {new Uri(server.Address, "healthz")}");
            Console.WriteLine("  Ctrl+C (or SIGTERM) stops");
            try
            {
                // The host stops itself on Ctrl+C and on SIGTERM (docker stop, systemd), finishing requests in flight.
                server.WaitForShutdownAsync().GetAwaiter().GetResult();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        }));
        return command;
    }
}
