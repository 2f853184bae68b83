using System.CommandLine;
using Pipeline.Cli.Benchmarks;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline benchmark`: the figures the README quotes, measured on this machine.</summary>
internal static class BenchmarkCommand
{
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { Description = "Timed runs per figure", DefaultValueFactory = _ => 3 };

        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var records = new Command("records", "Records stage throughput on a dataset (default: all of Fashion-MNIST)") { dataset, root, runs };
        records.SetAction(parse => CommonOptions.Guard(() =>
        {
            RecordsBenchmark.Dataset(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, parse.GetValue(runs));
            return 0;
        }));

        var images = new Option<int>("--images") { Description = "How many JPEGs to generate", DefaultValueFactory = _ => 2000 };
        var jpegs = new Command("jpeg-folder", "Records of a folder of baseline JPEGs against cat of the same files") { images, runs };
        jpegs.SetAction(parse => CommonOptions.Guard(() =>
        {
            RecordsBenchmark.JpegFolder(parse.GetValue(images), parse.GetValue(runs));
            return 0;
        }));

        var trainDataset = CommonOptions.Dataset();
        var trainRoot = CommonOptions.Root();
        var steps = new Option<int>("--steps") { Description = "Timed training steps per measurement", DefaultValueFactory = _ => 200 };
        var train = new Command("train", "Training throughput from shards against the same model on tensors in memory") { trainDataset, trainRoot, steps };
        train.SetAction(parse => CommonOptions.Guard(() =>
        {
            TrainBenchmark.Run(CommonOptions.FindRoot(parse.GetValue(trainRoot)), parse.GetValue(trainDataset)!, parse.GetValue(steps));
            return 0;
        }));

        var model = PredictCommand.ModelOption();
        var image = new Option<string?>("--image") { Description = "The image every request sends (default: a generated one of the model's input size)" };
        var requests = new Option<int>("--requests") { Description = "Requests in the concurrent phase (a quarter as many are timed one at a time)", DefaultValueFactory = _ => 2000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent clients", DefaultValueFactory = _ => 8 };
        var serve = new Command("serve", "REST and gRPC latency and throughput, start time, memory and new-version time of `pipeline serve` on localhost") { model, image, requests, concurrency };
        serve.SetAction(parse => CommonOptions.Guard(() =>
        {
            ServeBenchmark.Run(parse.GetValue(model)!, parse.GetValue(image), parse.GetValue(requests), parse.GetValue(concurrency));
            return 0;
        }));

        return new Command("benchmark", "Measure throughput figures") { records, jpegs, train, serve };
    }
}
