using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Build;

public sealed class ReleaseBundleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Artifacts(bool withSmoke = true)
    {
        _dir.WriteText("artifacts/x/export/1/model.onnx", "old model");
        _dir.WriteText("artifacts/x/export/2/model.onnx", "onnx bytes");
        _dir.WriteText("artifacts/x/export/2/model.json", "{}");
        _dir.WriteText("artifacts/x/export/latest", "2\n");
        _dir.WriteText("artifacts/x/pipeline.lock.json", "{\"stages\":{}}");
        _dir.WriteText("artifacts/x/eval/metrics.json", "{\"accuracy\":0.9}");
        if (withSmoke)
        {
            _dir.WriteText("artifacts/x/smoke/report.json", "{}");
        }
        return _dir.Combine("artifacts/x");
    }

    [Fact]
    public void The_bundle_holds_the_latest_export_and_the_build_record_with_a_checkable_manifest()
    {
        var folder = ReleaseBundle.Write(Artifacts(), new JsonObject { ["dotnet"] = "10.0" });

        var sums = File.ReadAllLines(Path.Combine(folder, ReleaseBundle.Manifest));
        Assert.Equal(["environment.json", "eval/metrics.json", "model/model.json", "model/model.onnx", "pipeline.lock.json", "smoke/report.json"],
            sums.Select(l => l.Split("  ")[1]));
        foreach (var line in sums)
        {
            var (hash, file) = (line.Split("  ")[0], line.Split("  ")[1]);
            Assert.Equal(hash, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, file)))));
        }
        Assert.Equal("onnx bytes", File.ReadAllText(Path.Combine(folder, "model/model.onnx")));
        Assert.Contains("\"model_version\": \"2\"", File.ReadAllText(Path.Combine(folder, "environment.json")));
    }

    [Fact]
    public void Writing_it_again_from_the_same_build_gives_the_same_bytes()
    {
        var artifacts = Artifacts();
        var first = Shards.HashAll(ReleaseBundle.Write(artifacts, new JsonObject { ["dotnet"] = "10.0" }));

        var second = Shards.HashAll(ReleaseBundle.Write(artifacts, new JsonObject { ["dotnet"] = "10.0" }));

        Assert.Equal(first, second);
    }

    [Fact]
    public void A_chain_not_built_through_SmokePredict_is_refused_and_names_what_is_missing()
    {
        var error = Assert.Throws<PipelineException>(() => ReleaseBundle.Write(Artifacts(withSmoke: false), []));

        Assert.Contains("smoke/report.json", error.Message);
        Assert.False(Directory.Exists(_dir.Combine("artifacts/x/release")));
    }
}
