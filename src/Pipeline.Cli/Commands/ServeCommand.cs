using System.CommandLine;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Serving.Http;
using Pipeline.Serving.Versions;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline serve --model EXPORT`: the REST prediction server, until Ctrl+C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = PredictCommand.ModelOption();
        var name = new Option<string?>("--name") { Description = "Model name in URLs (default: the dataset's name)" };
        var port = new Option<int>("--port") { Description = "TCP port of the REST API", DefaultValueFactory = _ => 8501 };
        var grpcPort = new Option<int>("--grpc-port") { Description = "TCP port of the gRPC API (TF Serving's PredictionService and ModelService)", DefaultValueFactory = _ => 8500 };
        var noGrpc = new Option<bool>("--no-grpc") { Description = "Serve REST only" };
        var host = new Option<string>("--host") { Description = "Address to listen on (loopback by default; 0.0.0.0 for every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per prediction (0: one per core)", DefaultValueFactory = _ => 0 };
        var maxRequestPixels = new Option<long>("--max-request-pixels")
        {
            Description = "Width × height summed over one request's images (from their headers); more is a 400",
            DefaultValueFactory = _ => new ServerOptions("default").MaxRequestPixels,
        };
        var keep = new Option<int>("--versions")
        {
            Description = "Serve the newest N versions of the export folder that load (0: every version)",
            DefaultValueFactory = _ => 0,
        };
        var labels = new Option<string?>("--version-labels")
        {
            Description = $"JSON file of version labels, {{\"stable\": 3, \"canary\": 4}} (default: {ModelVersions.LabelsFileName} in the export folder, when there is one)",
        };
        var formats = new Option<string>("--image-formats")
        {
            Description = $"Image formats taken from clients, a comma list of {string.Join(", ", ImageFormats.All)}, or all",
            DefaultValueFactory = _ => string.Join(",", ImageFormats.Network),
        };
        var poll = new Option<double>("--poll-seconds")
        {
            Description = "How often the export folder is looked at for new, removed and relabelled versions",
            DefaultValueFactory = _ => 1.0,
        };
        var command = new Command("serve", "Serve an exported model over REST (POST /v1/models/NAME:predict with {\"instances\": [{\"image_bytes\": {\"b64\": ...}}]}) "
            + "and gRPC, as TF Serving does: every version of an export folder, new ones loaded without a restart")
        {
            model, name, port, grpcPort, noGrpc, host, threads, maxRequestPixels, keep, labels, poll, formats,
        };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            if (parse.GetValue(keep) < 0 || parse.GetValue(poll) is not (>= 0.01 and <= 3600))
            {
                throw new PipelineException("--versions is 0 (every version) or more, and --poll-seconds is from 0.01 to 3600");
            }
            IReadOnlyList<string> imageFormats;
            try
            {
                imageFormats = ImageFormats.Parse(parse.GetValue(formats)!);
            }
            catch (ArgumentException e)
            {
                throw new PipelineException($"--image-formats: {e.Message.Replace(" (Parameter 'list')", "", StringComparison.Ordinal)}");
            }
            var versionOptions = new VersionOptions
            {
                ImageFormats = imageFormats,
                Keep = parse.GetValue(keep),
                LabelsFile = parse.GetValue(labels),
                PollInterval = TimeSpan.FromSeconds(parse.GetValue(poll)),
                Threads = parse.GetValue(threads),
            };
            using var versions = ModelVersions.Open(parse.GetValue(model)!, versionOptions, Console.Error.WriteLine);
            string dataset;
            using (var newest = versions.Lease())
            {
                dataset = newest.Classifier.Card.Dataset;
            }
            var options = new ServerOptions(parse.GetValue(name) ?? dataset, parse.GetValue(host)!, parse.GetValue(port))
            {
                MaxRequestPixels = parse.GetValue(maxRequestPixels),
                GrpcPort = parse.GetValue(noGrpc) ? null : parse.GetValue(grpcPort),
            };
            var server = PredictionServer.StartAsync(versions, options, Console.Error.WriteLine).GetAwaiter().GetResult();
            var url = new Uri(server.Address, $"v1/models/{options.Name}");
            Console.WriteLine($"serving {options.Name} version{(versions.Available().Count == 1 ? "" : "s")} {string.Join(", ", versions.Available())}"
                + (versions.Folder is { } folder ? $"; watching {folder} for new versions every {versionOptions.PollInterval.TotalSeconds:0.##} s" : ""));
            Console.WriteLine($"  POST {url}:predict   GET {url}   GET {new Uri(server.Address, "healthz")}");
            if (server.GrpcAddress is { } grpc)
            {
                Console.WriteLine($"  gRPC {grpc.Host}:{grpc.Port}: tensorflow.serving.PredictionService (Predict, Classify, GetModelMetadata), ModelService (GetModelStatus)");
            }
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
