using System.Text.Json.Nodes;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>
/// train.distributed's "srun" launcher on a one-node Slurm cluster (Debian's slurm-wlm and munge, started for the
/// test and stopped by pid): the Train stage asks Slurm for its 2 ranks, as a build on a login node would, and they
/// train the bits 2 ranks started by mpirun train.
/// </summary>
public sealed class SlurmTrainTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [SlurmFact]
    public async Task The_stage_started_through_srun_trains_what_it_trains_through_mpirun()
    {
        var dataset = TestDatasets.IdxDataset(_dir, train: 240, test: 40);
        var path = _dir.Combine($"datasets/{dataset}/dataset.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["train"] = JsonNode.Parse("""
            { "input_size": 12, "batch_size": 8, "train_steps": 16, "steps_per_eval": 8, "threads": 1, "distributed": { "processes": 2, "launcher": "mpirun" } }
            """);
        File.WriteAllText(path, json.ToJsonString());
        var pipeline = Path.Combine(AppContext.BaseDirectory, "pipeline");
        string[] Build(string artifacts, params string[] extra) =>
            ["run", "train", "--root", _dir.Path, "--dataset", dataset, "--cache", "off", "--artifacts", _dir.Combine(artifacts), .. extra];
        var cluster = _dir.Combine("cluster");
        var script = Path.Combine(Repository.Root, "tests/Pipeline.Cli.Tests/TestSupport/slurm-cluster.sh");
        try
        {
            var started = await ChildProcess.RunAsync(script, ["start", cluster], TimeSpan.FromMinutes(2));
            Assert.True(started.ExitCode == 0, started.Out + started.Error);

            var (exitCode, output, error) = await ChildProcess.RunAsync(pipeline, Build("srun", "--set", "train.distributed.launcher=srun"), TimeSpan.FromMinutes(4),
                new Dictionary<string, string> { ["SLURM_CONF"] = Path.Combine(cluster, "slurm.conf") });

            Assert.True(exitCode == 0, output + error);
            Assert.Contains("starting 2 processes: srun --mpi=pmix --ntasks 2 --kill-on-bad-exit=1 ", output, StringComparison.Ordinal);
            Assert.Contains("step 16: eval loss", output, StringComparison.Ordinal);

            // The same training as a batch job (build/deploy/slurm/train.sbatch, which sets the launcher to srun over
            // the dataset's mpirun): the stage's srun takes its 2 ranks from the job's allocation.
            var batch = await ChildProcess.RunAsync("sbatch",
                ["--parsable", "--wait", "--ntasks=2", "--chdir", _dir.Path, "--output", _dir.Combine("train.out"),
                    Path.Combine(Repository.Root, "build/deploy/slurm/train.sbatch")],
                TimeSpan.FromMinutes(4),
                new Dictionary<string, string>
                {
                    ["SLURM_CONF"] = Path.Combine(cluster, "slurm.conf"),
                    ["DATASET"] = dataset,
                    ["TARGET"] = "train",
                    ["PIPELINE"] = pipeline,
                    ["PIPELINE_ARGS"] = $"--root {_dir.Path} --cache off --artifacts {_dir.Combine("sbatch")}",
                });
            var log = File.Exists(_dir.Combine("train.out")) ? File.ReadAllText(_dir.Combine("train.out")) : "(no output file)";
            Assert.True(batch.ExitCode == 0, $"sbatch: {batch.Out} {batch.Error} {log}");
            Assert.Contains("starting 2 processes: srun --mpi=pmix --ntasks 2", log, StringComparison.Ordinal);
            Assert.Equal(File.ReadAllBytes(_dir.Combine($"srun/{dataset}/train/model.bin")), File.ReadAllBytes(_dir.Combine($"sbatch/{dataset}/train/model.bin")));
        }
        finally
        {
            await ChildProcess.RunAsync(script, ["stop", cluster], TimeSpan.FromMinutes(1));
        }

        var mpirun = await ChildProcess.RunAsync(pipeline, Build("mpirun"), TimeSpan.FromMinutes(4),
            new Dictionary<string, string> { ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" });
        Assert.True(mpirun.ExitCode == 0, mpirun.Out + mpirun.Error);
        Assert.Equal(File.ReadAllBytes(_dir.Combine($"mpirun/{dataset}/train/model.bin")), File.ReadAllBytes(_dir.Combine($"srun/{dataset}/train/model.bin")));
    }
}
