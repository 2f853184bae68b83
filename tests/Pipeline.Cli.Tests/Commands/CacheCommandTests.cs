using Pipeline.Cli.Tests.TestSupport;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>`pipeline cache push|pull|size` against an in-process remote cache, between two checkouts of one dataset.</summary>
public sealed class CacheCommandTests : IDisposable
{
    private readonly TempDirectory _first = new();
    private readonly TempDirectory _second = new();
    private readonly FakeHttpCache _server = new();

    public CacheCommandTests()
    {
        TestDatasets.IdxDataset(_first);
        TestDatasets.IdxDataset(_second);
    }

    public void Dispose()
    {
        _server.Dispose();
        _first.Dispose();
        _second.Dispose();
    }

    private static string[] In(TempDirectory checkout, params string[] args) => [.. args, "--root", checkout.Path, "--dataset", "tiny"];

    private static IReadOnlyDictionary<string, string> Outputs(TempDirectory checkout, string stage) =>
        LockFile.Load(checkout.Combine("artifacts/tiny/pipeline.lock.json")).Find(stage)!.Outputs;

    [Fact]
    public void A_build_made_without_the_remote_is_pushed_and_another_checkout_pulls_it_without_computing()
    {
        Assert.Equal(0, PipelineCommand.Run(In(_first, "run", "records", "--cache", "off")).ExitCode);

        var push = PipelineCommand.Run(In(_first, "cache", "push", "--cache", _server.Url));
        var pull = PipelineCommand.Run(In(_second, "cache", "pull", "--target", "records", "--cache", _server.Url));

        Assert.Equal(0, push.ExitCode);
        Assert.Contains(push.OutputLines, l => l.StartsWith("Records: pushed, ", StringComparison.Ordinal));
        Assert.Contains(push.OutputLines, l => l.StartsWith("Train: not pushed (stale: ", StringComparison.Ordinal));
        Assert.Equal($"pushed 2 stages of tiny to {_server.Url}", push.OutputLines[^1]);
        Assert.Equal(2, _server.Keys("ac").Count());
        Assert.Equal(0, pull.ExitCode);
        Assert.Equal("2 stages restored, 0 already fresh", pull.OutputLines[^1]);
        Assert.Equal(Outputs(_first, "records"), Outputs(_second, "records"));
    }

    [Fact]
    public void A_pull_stops_at_the_first_stage_no_cache_holds_naming_it()
    {
        Assert.Equal(0, PipelineCommand.Run(In(_first, "run", "records", "--cache", _server.Url)).ExitCode);

        var pull = PipelineCommand.Run(In(_second, "cache", "pull", "--cache", _server.Url));

        Assert.Equal(1, pull.ExitCode);
        var line = Assert.Single(pull.ErrorLines);
        Assert.StartsWith("error: train is stale and the run-cache (", line, StringComparison.Ordinal);
        Assert.Contains($"and {_server.Url}) has no run of it", line, StringComparison.Ordinal);
        Assert.Equal(Outputs(_first, "records"), Outputs(_second, "records"));
        Assert.False(Directory.Exists(_second.Combine("artifacts/tiny/train")));
    }

    [Fact]
    public void Push_without_a_remote_says_how_to_name_one()
    {
        var push = PipelineCommand.Run(In(_first, "cache", "push"));

        Assert.Equal(1, push.ExitCode);
        Assert.Equal([$"error: no remote cache to push to: give --cache=http://HOST:PORT/PREFIX or set {RunCache.EnvironmentVariable} to such a URL"], push.ErrorLines);
    }

    [Fact]
    public void Size_names_the_remote_behind_the_folder()
    {
        var size = PipelineCommand.Run("cache", "size", "--root", _first.Path, "--cache", _server.Url);

        Assert.Equal(0, size.ExitCode);
        Assert.Equal($"{_server.Url}: a remote cache; its size is the server's to tell (the HTTP cache protocol lists nothing)", size.OutputLines[^1]);
    }
}
