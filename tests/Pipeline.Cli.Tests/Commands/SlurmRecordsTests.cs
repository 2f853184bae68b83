using System.Security.Cryptography;
using Pipeline.Cli.Tests.TestSupport;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>
/// build/deploy/slurm's job array for Records, run for real on a one-node Slurm cluster (Debian's slurm-wlm and munge,
/// started for the test and stopped by pid): three array tasks write their shards, the combining job adopts them,
/// and the records are byte for byte those one process builds.
/// </summary>
public sealed class SlurmRecordsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [SlurmFact]
    public async Task A_job_array_of_three_workers_then_the_combining_job_give_the_records_one_process_builds()
    {
        var dataset = TestDatasets.IdxDataset(_dir, train: 60, test: 12, records: """{ "shards": { "train": 4, "test": 2 } }""");
        var single = PipelineCommand.Run("run", "records", "--root", _dir.Path, "--dataset", dataset, "--artifacts", _dir.Combine("single"), "--cache", "off");
        Assert.True(single.ExitCode == 0, single.Error);
        var cluster = _dir.Combine("cluster");
        try
        {
            await Shell(SlurmCluster, "start", cluster);
            var scripts = Path.Combine(Repository.Root, "build/deploy/slurm");
            var environment = new Dictionary<string, string>
            {
                ["SLURM_CONF"] = Path.Combine(cluster, "slurm.conf"),
                ["DATASET"] = dataset,
                ["PIPELINE"] = Path.Combine(AppContext.BaseDirectory, "pipeline"),
                ["PARTS"] = _dir.Combine("parts"),
                ["ARTIFACTS"] = _dir.Combine("combined"),
                ["PIPELINE_ARGS"] = $"--root {_dir.Path} --cache off",
            };
            var job = (await Shell("sbatch", ["--parsable", "--wait", "--array=0-2", "--chdir", _dir.Path, "--output", _dir.Combine("array-%a.out"),
                Path.Combine(scripts, "records-array.sbatch")], environment)).Trim();
            await Shell("sbatch", ["--parsable", "--wait", $"--dependency=afterok:{job}", "--chdir", _dir.Path, "--output", _dir.Combine("combine.out"),
                Path.Combine(scripts, "records-combine.sbatch"), job], environment);

            // Each task wrote its own part (shards of index mod 3), and the combining job adopted them, encoding nothing.
            foreach (var worker in new[] { 0, 1, 2 })
            {
                Assert.True(File.Exists(_dir.Combine($"parts/worker-{worker}/{dataset}/records/parts/part-{worker:D5}-of-00003.json")), $"worker {worker}'s part");
            }
            Assert.Contains("combined 3 workers' shares", File.ReadAllText(_dir.Combine("combine.out")), StringComparison.Ordinal);
            Assert.Equal(Hashes(_dir.Combine($"single/{dataset}/records")), Hashes(_dir.Combine($"combined/{dataset}/records")));
        }
        finally
        {
            await Shell(SlurmCluster, "stop", cluster);
        }
    }

    private static string SlurmCluster => Path.Combine(Repository.Root, "tests/Pipeline.Cli.Tests/TestSupport/slurm-cluster.sh");

    /// <summary>Each shard and the manifest with its SHA-256, the parts/ folder left out (a single run has none).</summary>
    private static SortedDictionary<string, string> Hashes(string records) => new(
        Directory.EnumerateFiles(records).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))),
        StringComparer.Ordinal);

    private static Task<string> Shell(string program, params string[] arguments) => Shell(program, arguments, new Dictionary<string, string>());

    /// <summary>Runs a command to completion (3 minutes at most); fails the test, with its output, unless it exits 0.</summary>
    private static async Task<string> Shell(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var (exitCode, output, error) = await ChildProcess.RunAsync(program, arguments, TimeSpan.FromMinutes(3), environment);
        Assert.True(exitCode == 0, $"{program} {string.Join(' ', arguments)} exited {exitCode}: {output} {error}");
        return output;
    }
}

/// <summary>A test on a one-node Slurm cluster: skipped, saying why, without slurm-wlm and munge, unless PIPELINE_REQUIRE_SLURM is set.</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("PIPELINE_REQUIRE_SLURM") is null
            && (!File.Exists("/usr/sbin/slurmctld") || !File.Exists("/usr/sbin/munged") || Environment.UserName != "root"))
        {
            Skip = "a one-node Slurm cluster needs Debian's slurm-wlm and munge, run as root (./build.sh --target=Test installs them and sets PIPELINE_REQUIRE_SLURM)";
        }
    }
}
