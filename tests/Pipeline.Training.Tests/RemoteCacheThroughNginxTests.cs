using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Tests.TestSupport;

namespace Pipeline.Training.Tests;

/// <summary>
/// Checkouts sharing their builds through a real remote cache: Debian's nginx with WebDAV PUT, started from the
/// repository's config (build/deploy/remote-cache/nginx.conf). Each checkout has its own artifacts and local cache.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public sealed class RemoteCacheThroughNginxTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }
    }

    private T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>A fresh checkout of the shapes dataset (the same files each time) using the remote cache.</summary>
    private DatasetPipeline Checkout(string url, Action<string> log, int trainSteps = 60)
    {
        var dir = Own(new TempDirectory());
        var name = ShapesDataset.Write(dir, sections: "\"export\": { \"min_accuracy\": 0 }, \"smoke\": { \"accuracy_tolerance\": 1 },");
        if (trainSteps != 60)
        {
            var path = dir.Combine($"datasets/{name}/dataset.json");
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"train_steps\": 60", $"\"train_steps\": {trainSteps}", StringComparison.Ordinal));
        }
        return DatasetPipeline.Open(dir.Path, name, log, laterStages: TrainingStages.All, cache: url);
    }

    private static Dictionary<string, IReadOnlyDictionary<string, string>> Outputs(DatasetPipeline pipeline)
    {
        var lockFile = LockFile.Load(pipeline.Engine.LockPath);
        return pipeline.Stages.ToDictionary(s => s.Name, s => lockFile.Find(s.Name)!.Outputs);
    }

    [NginxFact]
    public void Two_checkouts_share_a_build_through_nginx_and_a_server_killed_mid_build_costs_a_rebuild_never_a_wrong_output()
    {
        var nginx = Own(new NginxServer(Own(new TempDirectory()).Path));

        // The first checkout builds the chain and uploads every run when the build ends.
        var firstLog = new List<string>();
        var first = Checkout(nginx.Url, firstLog.Add);
        first.Build("smokepredict", new BuildOptions());
        Assert.Contains(firstLog, l => l.StartsWith("  uploaded train's run to the remote cache", StringComparison.Ordinal));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(nginx.StoreFolder, "ac")));

        // The second, with an empty local cache, trains nothing: every stage the cache keeps comes from nginx.
        var secondLog = new List<string>();
        var second = Checkout(nginx.Url, secondLog.Add);
        var outcomes = second.Build("smokepredict", new BuildOptions());

        Assert.All(outcomes.Where(o => o.StatusBefore.Stage != "export"), o => Assert.True(o.Restored, $"{o.StatusBefore.Stage} was not restored"));
        Assert.False(Directory.Exists(Path.Combine(second.ArtifactsDirectory, "checkpoints")), "the second checkout trained");
        Assert.Equal(Outputs(first), Outputs(second));
        Assert.Contains(secondLog, l => l.StartsWith($"  downloaded from the remote cache {nginx.Url}", StringComparison.Ordinal));

        // nginx is killed once the first run of a new build is up; the build still succeeds, on its local cache.
        var thirdLog = new List<string>();
        var killed = false;
        var third = Checkout(nginx.Url, line =>
        {
            thirdLog.Add(line);
            if (!killed && line.StartsWith("  uploaded ", StringComparison.Ordinal))
            {
                nginx.Kill();
                killed = true;
            }
        }, trainSteps: 30);
        third.Build("smokepredict", new BuildOptions());
        Assert.True(killed);
        Assert.True(thirdLog.Count(l => l.Contains($"the remote cache {nginx.Url} cannot be used", StringComparison.Ordinal)) == 1, string.Join("\n", thirdLog));
        Assert.Contains(thirdLog, l => l.Contains("stayed in the local cache only", StringComparison.Ordinal));

        // Started again, it serves what was uploaded before the kill; the rest is built, to the same bytes.
        nginx.Start();
        var fourthLog = new List<string>();
        var fourth = Checkout(nginx.Url, fourthLog.Add, trainSteps: 30);
        var fourthOutcomes = fourth.Build("smokepredict", new BuildOptions());
        Assert.True(fourthOutcomes.Single(o => o.StatusBefore.Stage == "train").Restored);
        Assert.Contains(fourthOutcomes, o => o.Ran && !o.Restored && o.StatusBefore.Stage != "export");
        Assert.Equal(Outputs(third), Outputs(fourth));
    }
}
