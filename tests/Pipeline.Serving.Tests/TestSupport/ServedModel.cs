using System.Collections.Concurrent;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Http;
using Pipeline.Serving.Prediction;

namespace Pipeline.Serving.Tests.TestSupport;

/// <summary>
/// <see cref="TinyExport"/>'s model served on a free loopback port with small limits, and a client for it; shared by
/// the tests of a class, since none of them changes the server.
/// </summary>
public sealed class ServedModel : IAsyncLifetime
{
    public const string Name = "tiny";
    public const int MaxInstances = 4;
    public const long MaxBodyBytes = 16 * 1024;
    public const long MaxImagePixels = 1_000;
    public const long MaxRequestPixels = 2_000;

    private readonly TempDirectory _dir = new();

    public OnnxClassifier Classifier { get; private set; } = null!;

    public PredictionServer Server { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    /// <summary>What the server logged: it logs only faults of its own (500s), so tests expect this to stay empty.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    public async Task InitializeAsync()
    {
        Classifier = OnnxClassifier.Load(ExportedModel.Open(TinyExport.Write(_dir)), threads: 1);
        var options = new ServerOptions(Name, "127.0.0.1", 0)
        {
            MaxInstances = MaxInstances,
            MaxBodyBytes = MaxBodyBytes,
            MaxImagePixels = MaxImagePixels,
            MaxRequestPixels = MaxRequestPixels,
        };
        Server = await PredictionServer.StartAsync(Classifier, options, Log.Enqueue);
        Client = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
        Classifier?.Dispose();
        _dir.Dispose();
    }
}
