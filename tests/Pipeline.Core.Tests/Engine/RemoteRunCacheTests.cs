using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using ActionResult = Pipeline.Core.Engine.Proto.ActionResult;

namespace Pipeline.Core.Tests.Engine;

/// <summary>The run-cache with a remote behind it, against an in-process server speaking Bazel's HTTP cache protocol.</summary>
public sealed class RemoteRunCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeHttpCache _server = new();
    private readonly string _input;

    public RemoteRunCacheTests() => _input = _dir.WriteText("inputs/train.csv", "a.jpg,cat\nb.jpg,dog\n");

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    /// <summary>One checkout: its own artifacts and local cache, the same inputs, and a two-stage chain (a file, then a folder).</summary>
    private sealed record Clone(StageEngine Engine, RunCache Cache, string Artifacts, List<string> Log, FakeStage First, FolderStage Second)
    {
        public void Build()
        {
            Engine.Run(First);
            Engine.Run(Second);
            Cache.Flush(Log.Add);
        }

        public IReadOnlyDictionary<string, string> Outputs(string stage) => LockFile.Load(Engine.LockPath).Find(stage)!.Outputs;
    }

    private Clone Open(string name, string? url = null, Func<string, string?>? environment = null)
    {
        var artifacts = _dir.Combine($"{name}/artifacts/data");
        Directory.CreateDirectory(artifacts);
        var log = new List<string>();
        var cache = new RunCache(_dir.Combine($"{name}/artifacts/.cache"), new HttpCache(url ?? _server.Url, environment ?? (_ => null)));
        var engine = new StageEngine(artifacts, _dir.Combine(name), FileHashCache.InMemory(), log.Add, cache);
        return new Clone(engine, cache, artifacts, log, new FakeStage("first", _input), new FolderStage(Path.Combine(artifacts, "first.out")));
    }

    [Fact]
    public void A_second_clone_with_an_empty_local_cache_restores_every_stage_from_the_remote_with_the_same_outputs()
    {
        var a = Open("a");
        a.Build();
        var b = Open("b");

        b.Build();

        Assert.Equal(0, b.First.Runs);
        Assert.Equal(0, b.Second.Runs);
        Assert.Equal(a.Outputs("first"), b.Outputs("first"));
        Assert.Equal(a.Outputs("second"), b.Outputs("second"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Artifacts, "shards", "1.bin")), File.ReadAllBytes(Path.Combine(b.Artifacts, "shards", "1.bin")));
        Assert.Equal(2, b.Log.Count(l => l.Contains("downloaded from the remote cache http://127.0.0.1", StringComparison.Ordinal)));
        // Read-through: the runs are in b's own folder now, and b uploaded nothing.
        Assert.Equal(2, b.Cache.Size().EntriesPerStage.Values.Sum());
        Assert.DoesNotContain(b.Log, l => l.Contains("uploaded", StringComparison.Ordinal));
        Assert.Contains(a.Log, l => l.StartsWith("  uploaded second's run to the remote cache", StringComparison.Ordinal));
    }

    [Fact]
    public void An_entry_is_an_REAPI_action_result_naming_each_output_by_the_SHA256_of_its_blob()
    {
        var a = Open("a");
        a.Build();
        var fingerprint = LockFile.Load(a.Engine.LockPath).Find("second")!.Fingerprint;

        var result = ActionResult.Parser.ParseFrom(_server.Store[$"ac/{RunCache.ActionKey("second", fingerprint)}"]);

        Assert.Equal(["shards/1.bin", "shards/2.bin"], result.OutputFiles.Select(f => f.Path));
        foreach (var file in result.OutputFiles)
        {
            var bytes = File.ReadAllBytes(Path.Combine(a.Artifacts, file.Path));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), file.Digest.Hash);
            Assert.Equal(bytes.Length, file.Digest.SizeBytes);
            Assert.Equal(bytes, _server.Store[$"cas/{file.Digest.Hash}"]);
        }
        Assert.Equal("shards", Assert.Single(result.OutputDirectories).Path);
        // Blobs first, the entry last: no entry ever names a blob the server has not got.
        var puts = _server.Requests.Where(r => r.StartsWith("PUT", StringComparison.Ordinal)).ToList();
        Assert.True(puts.FindLastIndex(r => r.StartsWith("PUT cas/", StringComparison.Ordinal)) < puts.FindLastIndex(r => r.StartsWith("PUT ac/", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_damaged_blob_is_discarded_with_a_warning_the_stage_runs_and_its_upload_repairs_the_remote()
    {
        var a = Open("a");
        a.Build();
        var blob = _server.Keys("cas").Single(k => _server.Store[k].Length > 0 && _server.Store[k].SequenceEqual(File.ReadAllBytes(Path.Combine(a.Artifacts, "shards", "2.bin"))));
        var good = _server.Store[blob];
        _server.Store[blob] = [.. good[..^1], (byte)(good[^1] ^ 1)];
        var b = Open("b");

        b.Build();

        Assert.Contains(b.Log, l => l.Contains("sent a damaged blob for second", StringComparison.Ordinal) && l.Contains("the stage runs", StringComparison.Ordinal));
        Assert.Equal(1, b.Second.Runs);
        Assert.Equal(a.Outputs("second"), b.Outputs("second"));
        Assert.Equal(good, _server.Store[blob]);
        // A truncated blob is caught the same way.
        _server.Store[blob] = good[..^3];
        var c = Open("c");
        c.Build();
        Assert.Equal(1, c.Second.Runs);
        Assert.Equal(a.Outputs("second"), c.Outputs("second"));
    }

    [Fact]
    public void A_damaged_entry_is_ignored_with_a_warning_and_replaced_when_the_stage_is_stored()
    {
        var a = Open("a");
        a.Build();
        var key = $"ac/{RunCache.ActionKey("first", LockFile.Load(a.Engine.LockPath).Find("first")!.Fingerprint)}";
        _server.Store[key] = "<html>not an action result</html>"u8.ToArray();
        var b = Open("b");

        b.Build();

        Assert.Contains(b.Log, l => l.Contains($"the remote cache's entry {key} of first is damaged", StringComparison.Ordinal));
        Assert.Equal(1, b.First.Runs);
        Assert.Equal(a.Outputs("first"), b.Outputs("first"));
        Assert.Single(ActionResult.Parser.ParseFrom(_server.Store[key]).OutputFiles);
    }

    [Fact]
    public void An_entry_naming_a_path_outside_the_outputs_is_refused()
    {
        var a = Open("a");
        a.Build();
        var key = $"ac/{RunCache.ActionKey("first", LockFile.Load(a.Engine.LockPath).Find("first")!.Fingerprint)}";
        var result = ActionResult.Parser.ParseFrom(_server.Store[key]);
        result.OutputFiles[0].Path = "../../outside.txt";
        _server.Store[key] = Google.Protobuf.MessageExtensions.ToByteArray(result);
        var b = Open("b");

        b.Build();

        Assert.Contains(b.Log, l => l.Contains("output \"../../outside.txt\" is not a path inside the stage's outputs", StringComparison.Ordinal));
        Assert.False(File.Exists(_dir.Combine("b/artifacts/outside.txt")));
        Assert.Equal(1, b.First.Runs);
    }

    [Fact]
    public void An_unreachable_remote_is_one_warning_and_the_build_goes_on_with_the_local_cache()
    {
        int closedPort;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var a = Open("a", $"http://127.0.0.1:{closedPort}/cache");

        a.Build();

        Assert.Equal(1, a.First.Runs);
        Assert.Equal(1, a.Second.Runs);
        Assert.Single(a.Log, l => l.Contains($"the remote cache http://127.0.0.1:{closedPort}/cache cannot be used", StringComparison.Ordinal));
        Assert.Contains(a.Log, l => l.Contains("2 runs stayed in the local cache only; `pipeline cache push` uploads them later", StringComparison.Ordinal));
        Assert.Equal(2, a.Cache.Size().EntriesPerStage.Values.Sum());
    }

    [Fact]
    public void A_remote_failing_mid_upload_leaves_no_entry_naming_a_missing_blob_and_the_next_build_is_right()
    {
        var a = Open("a");
        // The server fails from the third blob on: the first run is up, the second is not.
        var blobs = 0;
        _server.Refuse = line => line.StartsWith("PUT cas/", StringComparison.Ordinal) && Interlocked.Increment(ref blobs) >= 3 ? HttpStatusCode.InternalServerError : null;
        a.Build();
        Assert.Contains(a.Log, l => l.Contains("was answered 500", StringComparison.Ordinal));
        Assert.Contains(a.Log, l => l.Contains("1 run stayed in the local cache only", StringComparison.Ordinal));
        foreach (var entry in _server.Keys("ac"))
        {
            Assert.All(ActionResult.Parser.ParseFrom(_server.Store[entry]).OutputFiles, f => Assert.True(_server.Store.ContainsKey($"cas/{f.Digest.Hash}"), f.Path));
        }

        _server.Refuse = null;
        var b = Open("b");
        b.Build();

        Assert.Equal(0, b.First.Runs);
        Assert.Equal(1, b.Second.Runs);
        Assert.Equal(a.Outputs("second"), b.Outputs("second"));
        // What a could not upload, a push does later (another process: a remote that failed stays off for the rest of one).
        Assert.Null(a.Cache.Upload("second", LockFile.Load(a.Engine.LockPath).Find("second")!.Fingerprint, a.Log.Add));
        var push = new RunCache(a.Cache.Directory, new HttpCache(_server.Url, _ => null));
        Assert.NotNull(push.Upload("second", LockFile.Load(a.Engine.LockPath).Find("second")!.Fingerprint, a.Log.Add));
        var c = Open("c");
        c.Build();
        Assert.Equal(0, c.First.Runs + c.Second.Runs);
    }

    [Fact]
    public void Restore_only_brings_a_stage_from_the_remote_or_stops_naming_it()
    {
        var a = Open("a");
        a.Engine.Run(a.First);
        a.Cache.Flush(a.Log.Add);
        var b = Open("b");

        Assert.True(b.Engine.Run(b.First, restoreOnly: true).Restored);
        var error = Assert.Throws<PipelineException>(() => b.Engine.Run(b.Second, restoreOnly: true));

        Assert.Contains("second is stale and the run-cache (", error.Message, StringComparison.Ordinal);
        Assert.Contains($"and {_server.Url}) has no run of it", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, b.Second.Runs);
    }

    [Fact]
    public void Credentials_come_from_the_environment_and_never_from_the_URL()
    {
        var token = Open("a", environment: name => name == HttpCache.TokenVariable ? "s3cret-token" : null);
        token.Build();
        var basic = Open("b", environment: name => name switch { HttpCache.UserVariable => "ci", HttpCache.PasswordVariable => "pa:ss", _ => null });
        basic.Engine.Run(basic.First);

        Assert.Contains("Bearer s3cret-token", _server.Authorizations);
        Assert.Contains($"Basic {Convert.ToBase64String("ci:pa:ss"u8.ToArray())}", _server.Authorizations);
        Assert.DoesNotContain(token.Log, l => l.Contains("s3cret", StringComparison.Ordinal));
        var inUrl = Assert.Throws<PipelineException>(() => new HttpCache($"http://ci:hunter2@127.0.0.1:{_server.Port}/cache"));
        Assert.DoesNotContain("hunter2", inUrl.Message, StringComparison.Ordinal);
        Assert.Contains(HttpCache.UserVariable, inUrl.Message, StringComparison.Ordinal);
        Assert.Throws<PipelineException>(() => new HttpCache(_server.Url, name => name is HttpCache.TokenVariable or HttpCache.UserVariable ? "x" : null));
        Assert.Throws<PipelineException>(() => new HttpCache("ftp://127.0.0.1/cache"));
        Assert.Throws<PipelineException>(() => new HttpCache($"{_server.Url}?key=1"));
    }

    [Fact]
    public void A_refused_request_names_the_status_and_turns_the_remote_off_for_the_rest_of_the_build()
    {
        _server.Refuse = line => line.StartsWith("GET ac/", StringComparison.Ordinal) ? HttpStatusCode.Unauthorized : null;
        var a = Open("a");

        a.Build();

        Assert.Single(a.Log, l => l.Contains("GET ac/", StringComparison.Ordinal) && l.Contains("was answered 401 Unauthorized", StringComparison.Ordinal));
        Assert.Single(_server.Requests, r => r.StartsWith("GET ac/", StringComparison.Ordinal));
        Assert.Equal(1, a.Second.Runs);
    }

    /// <summary>Writes a folder output, shards/, of two files derived from its input (the first stage's output).</summary>
    private sealed class FolderStage(string input) : IStage
    {
        public string Name => "second";

        public int ImplementationVersion => 1;

        public int Runs { get; private set; }

        public StageDeclaration Declare() => new([StageInput.File("first.out", input)], new JsonObject(), ["shards"]);

        public void Run(StageRun run)
        {
            Runs++;
            var folder = run.PathOf("shards");
            Directory.CreateDirectory(folder);
            var bytes = File.ReadAllBytes(input);
            File.WriteAllBytes(Path.Combine(folder, "1.bin"), bytes);
            File.WriteAllBytes(Path.Combine(folder, "2.bin"), [.. bytes, .. bytes]);
        }
    }
}
