using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Net.Client;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Serving.Export;
using Pipeline.Serving.Grpc.Proto;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// The REST server's figures, measured against a real `pipeline serve` process on localhost: time until it answers,
/// single-image latency (p50/p99, one request at a time), throughput and latency under concurrent load, the
/// server process's memory, small requests' latency while three clients send the largest requests it takes, REST
/// against gRPC against the server's own /healthz with 1 and 8 clients, and the time a new version takes to be served.
/// </summary>
internal static partial class ServeBenchmark
{
    public static void Run(string model, string? imagePath, int requests, int concurrency)
    {
        var exported = ExportedModel.Open(model);
        var image = imagePath is null ? SampleImage(exported.Card.Input) : File.ReadAllBytes(imagePath);
        var body = new JsonObject { ["instances"] = new JsonArray(new JsonObject { ["image_bytes"] = new JsonObject { ["b64"] = Convert.ToBase64String(image) } }) }.ToJsonString();

        // A copy of the version in an export folder of its own, so that a new version can be copied in.
        var export = Directory.CreateTempSubdirectory("pipeline-serve-benchmark-").FullName;
        CopyFolder(exported.Folder, Path.Combine(export, exported.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var clock = Stopwatch.StartNew();
        using var server = Process.Start(new ProcessStartInfo(Environment.ProcessPath!, ["serve", "--model", export, "--port", "0", "--grpc-port", "0", "--name", "bench"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        }) ?? throw new PipelineException("cannot start `pipeline serve`");
        try
        {
            var (predict, grpcAddress) = ReadAddresses(server);
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            Send(client, predict, body);
            var firstAnswer = clock.Elapsed;
            for (var i = 0; i < 50; i++)
            {
                Send(client, predict, body);
            }
            server.Refresh();
            var rssAfterWarmup = server.WorkingSet64;

            var single = new double[Math.Max(1, requests / 4)];
            for (var i = 0; i < single.Length; i++)
            {
                var start = Stopwatch.GetTimestamp();
                Send(client, predict, body);
                single[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            using var channel = GrpcChannel.ForAddress(grpcAddress);
            var grpc = new PredictionService.PredictionServiceClient(channel);
            var grpcRequest = new PredictRequest { ModelSpec = new ModelSpec { Name = "bench" } };
            grpcRequest.Inputs["image_bytes"] = new TensorProto { Dtype = DataType.DtString, StringVal = { ByteString.CopyFrom(image) } };
            var healthz = new Uri(predict, "/healthz");
            // Each client a thread of its own, sending one request at a time (synchronously: a thread-pool task blocked
            // on a request starves the pool, and the figures would measure that).
            var rows = new List<string>();
            foreach (var clients in new[] { 1, concurrency }.Distinct())
            {
                foreach (var (name, send) in new (string, Action)[]
                {
                    ("REST predict", () => Send(client, predict, body)),
                    ("gRPC Predict", () => grpc.Predict(grpcRequest)),
                    ("REST /healthz", () => client.GetAsync(healthz).GetAwaiter().GetResult().Dispose()),
                })
                {
                    var (rate, latencies) = Load(send, requests, clients);
                    rows.Add($"    | {name} | {clients} | {rate:0} | {Percentile(latencies, 50):0.00} | {Percentile(latencies, 99):0.00} |");
                }
            }

            var peak = PeakResidentBytes(server.Id);
            server.Refresh();
            var rssBeforeLarge = server.WorkingSet64;

            var large = LargeRequestsAlongside(client, predict, body, Math.Max(1, requests / 10));
            var peakWithLarge = PeakResidentBytes(server.Id);

            Console.WriteLine($"serve {exported.Card.Dataset} version {exported.Version} ({exported.Card.Architecture}, input {exported.Card.Input.Channels}×{exported.Card.Input.Size}×{exported.Card.Input.Size}), "
                + $"one {image.Length:N0}-byte image per request, {Environment.ProcessorCount} cores shared by server and client:");
            Console.WriteLine($"  start to first answer (process start, model load, first request): {firstAnswer.TotalSeconds:0.00} s");
            Console.WriteLine($"  latency, one request at a time ({single.Length}): p50 {Percentile(single, 50):0.00} ms, p99 {Percentile(single, 99):0.00} ms");
            Console.WriteLine($"  under load ({requests} requests a row, one image each; /healthz is the HTTP floor):");
            Console.WriteLine("    | protocol | clients | requests/s | p50 ms | p99 ms |");
            Console.WriteLine("    | --- | --- | --- | --- | --- |");
            rows.ForEach(Console.WriteLine);
            Console.WriteLine($"  server memory: {rssAfterWarmup / (1024 * 1024)} MB resident after warm-up, {(peak is { } p ? $"{p / (1024 * 1024)} MB" : "unknown")} peak");
            Console.WriteLine($"  while {LargeClients} maximal requests run ({large.Images} JPEGs of {LargeSide}×{LargeSide}, {large.BodyBytes / (1024.0 * 1024):0.0} MB each, over and over): "
                + $"{large.Small.Length} small requests one at a time: p50 {Percentile(large.Small, 50):0.00} ms, p99 {Percentile(large.Small, 99):0.00} ms, max {large.Small.Max():0.00} ms; "
                + $"/healthz max {large.Healthz.Max():0.00} ms; {large.Large.Count} maximal requests answered, median {Percentile([.. large.Large], 50) / 1000:0.00} s; "
                + $"server memory {rssBeforeLarge / (1024 * 1024)} MB before, {(peakWithLarge is { } q ? $"{q / (1024 * 1024)} MB" : "unknown")} peak");

            var reload = NewVersion(client, predict, export, exported.Version + 1);
            Console.WriteLine($"  a new version, moved into the export folder while serving: available after {reload.TotalSeconds:0.00} s "
                + "(the folder is looked at every second and loaded once two looks agree; the load itself is in the server's log above)");
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            server.WaitForExit();
            Directory.Delete(export, recursive: true);
        }
    }

    /// <summary>Sends <paramref name="requests"/> requests from <paramref name="clients"/> threads: requests per second and each one's milliseconds.</summary>
    private static (double Rate, double[] Latencies) Load(Action send, int requests, int clients)
    {
        for (var i = 0; i < 20; i++)
        {
            send();
        }
        var latencies = new double[requests];
        var next = -1;
        var wall = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(_ => new Thread(() =>
        {
            for (var i = Interlocked.Increment(ref next); i < requests; i = Interlocked.Increment(ref next))
            {
                var start = Stopwatch.GetTimestamp();
                send();
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        return (requests / wall.Elapsed.TotalSeconds, latencies);
    }

    /// <summary>Copies the served version to a new number beside the export folder, moves it in, and times until the server lists it available.</summary>
    private static TimeSpan NewVersion(HttpClient client, Uri predict, string export, int version)
    {
        var number = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var staging = export + "-staging";
        CopyFolder(Path.Combine(export, (version - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)), staging);
        var status = new Uri(predict, "/v1/models/bench");
        var clock = Stopwatch.StartNew();
        Directory.Move(staging, Path.Combine(export, number));
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            var versions = JsonNode.Parse(client.GetStringAsync(status).GetAwaiter().GetResult())!["model_version_status"]!.AsArray();
            if (versions.Any(v => v!["version"]!.GetValue<string>() == number && v["state"]!.GetValue<string>() == "AVAILABLE"))
            {
                return clock.Elapsed;
            }
            Thread.Sleep(5);
        }
        throw new PipelineException($"version {number} was not served within a minute", export);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    private const int LargeClients = 3;
    private const int LargeSide = 5000;

    /// <summary>
    /// Small requests, and /healthz after each tenth, one at a time while <see cref="LargeClients"/> clients each send the
    /// largest request the server's default budget takes (two 5000×5000 JPEGs: 50 megapixels) over and over.
    /// </summary>
    private static (double[] Small, double[] Healthz, List<double> Large, int Images, long BodyBytes) LargeRequestsAlongside(HttpClient client, Uri predict, string smallBody, int count)
    {
        const int images = 2;
        var jpeg = LargeJpeg();
        var largeBody = new JsonObject { ["instances"] = new JsonArray([.. Enumerable.Range(0, images).Select(_ => (JsonNode)new JsonObject { ["b64"] = Convert.ToBase64String(jpeg) })]) }.ToJsonString();
        var healthz = new Uri(predict, "/healthz");
        var large = new List<double>();
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, LargeClients).Select(_ => new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                Send(client, predict, largeBody);
                lock (large)
                {
                    large.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
        })).ToList();
        senders.ForEach(t => t.Start());
        Thread.Sleep(500); // every large request is in the server: decoding or waiting its turn

        // At least `count` small requests, and on until each large client has had two answers: the whole time spans them.
        var small = new List<double>();
        var health = new List<double>();
        for (var i = 0; i < count || Answered() < 2 * LargeClients; i++)
        {
            var start = Stopwatch.GetTimestamp();
            Send(client, predict, smallBody);
            small.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (i % 10 == 0)
            {
                start = Stopwatch.GetTimestamp();
                using var response = client.GetAsync(healthz).GetAwaiter().GetResult();
                response.EnsureSuccessStatusCode();
                health.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }
        stop.Cancel();
        senders.ForEach(t => t.Join());
        return ([.. small], [.. health], large, images, Encoding.UTF8.GetByteCount(largeBody));

        int Answered()
        {
            lock (large)
            {
                return large.Count;
            }
        }
    }

    /// <summary>A 5000×5000 JPEG of smooth gradients and some texture, about the size of a photo's.</summary>
    private static byte[] LargeJpeg()
    {
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(LargeSide, LargeSide);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < row.Length; x++)
                {
                    row[x] = new SixLabors.ImageSharp.PixelFormats.Rgb24((byte)(x / 20), (byte)(y / 20), (byte)((x * y) % 7 * 8));
                }
            }
        });
        using var buffer = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsJpeg(image, buffer);
        return buffer.ToArray();
    }

    /// <summary>The predict URL and the gRPC address, from the lines `pipeline serve` prints once it listens.</summary>
    private static (Uri Predict, Uri Grpc) ReadAddresses(Process server)
    {
        Uri? predict = null;
        string? line;
        while ((line = server.StandardOutput.ReadLine()) is not null)
        {
            var match = PredictUrl().Match(line);
            if (match.Success)
            {
                predict = new Uri(match.Groups["url"].Value);
            }
            var grpc = GrpcAddress().Match(line);
            if (grpc.Success && predict is not null)
            {
                return (predict, new Uri($"http://{grpc.Groups["address"].Value}"));
            }
        }
        throw new PipelineException("`pipeline serve` exited before listening; its error is above");
    }

    private static void Send(HttpClient client, Uri url, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = client.PostAsync(url, content).GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
        {
            throw new PipelineException($"the server answered {(int)response.StatusCode}: {response.Content.ReadAsStringAsync().GetAwaiter().GetResult()}", url.ToString());
        }
    }

    private static double Percentile(double[] values, int percent)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percent / 100.0 * sorted.Length) - 1)];
    }

    /// <summary>VmHWM from /proc on Linux: the most memory the process ever held resident.</summary>
    private static long? PeakResidentBytes(int pid)
    {
        var status = $"/proc/{pid}/status";
        if (!File.Exists(status))
        {
            return null;
        }
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>A PNG of the model's input size with some structure, when no image is given.</summary>
    private static byte[] SampleImage(InputSpec input)
    {
        var pixels = new byte[input.Size * input.Size];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 37 % 251);
        }
        return GrayPngWriter.Encode(pixels, input.Size, input.Size);
    }

    [GeneratedRegex(@"POST (?<url>\S+:predict)")]
    private static partial Regex PredictUrl();

    [GeneratedRegex(@"gRPC (?<address>\S+):\s")]
    private static partial Regex GrpcAddress();
}
