namespace Pipeline.Core.Engine;

/// <summary>What a running stage gets: where to write, how to report, and whether to stop.</summary>
public sealed class StageRun
{
    public StageRun(string outputRoot, Action<string> log, CancellationToken cancellation)
    {
        OutputRoot = outputRoot;
        Log = log;
        Cancellation = cancellation;
    }

    /// <summary>A fresh temporary folder; declared outputs written here are moved into place on success.</summary>
    public string OutputRoot { get; }

    public Action<string> Log { get; }

    public CancellationToken Cancellation { get; }

    public string PathOf(string output) => Path.Combine(OutputRoot, output);
}
