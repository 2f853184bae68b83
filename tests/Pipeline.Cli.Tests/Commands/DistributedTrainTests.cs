using System.Diagnostics;
using System.Text.Json.Nodes;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>
/// The Train stage as a data-parallel MPI job (train.distributed): launched by the stage through mpirun, launched by
/// someone else ("none": the build is the job's ranks), and a rank killed mid-training. Each build is the pipeline
/// program in a process of its own, as Cake runs it.
/// </summary>
public sealed class DistributedTrainTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Pipeline => Path.Combine(AppContext.BaseDirectory, "pipeline");

    private static readonly Dictionary<string, string> AsRoot = new() { ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" };

    /// <summary>
    /// A small dataset of 12-pixel images whose training is 2 processes of 4 examples a step. Its 41 test examples
    /// (the held-out split) end in a batch of 1, of which rank 0's share is empty.
    /// </summary>
    private string Dataset(int steps = 24, int stepsPerEval = 8, string launcher = "mpirun")
    {
        var name = TestDatasets.IdxDataset(_dir, train: 240, test: 41);
        var path = _dir.Combine($"datasets/{name}/dataset.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["train"] = JsonNode.Parse($$"""
            {
              "input_size": 12, "batch_size": 8, "train_steps": {{steps}}, "steps_per_eval": {{stepsPerEval}}, "threads": 1,
              "distributed": { "processes": 2, "launcher": "{{launcher}}" }
            }
            """);
        File.WriteAllText(path, json.ToJsonString());
        return name;
    }

    private Task<(int ExitCode, string Out, string Error)> Build(string dataset, params string[] extra) =>
        ChildProcess.RunAsync(Pipeline, ["run", "train", "--root", _dir.Path, "--dataset", dataset, "--cache", "off", .. extra], TimeSpan.FromMinutes(4));

    private string Artifacts(string dataset, string relative, string artifacts = "artifacts") => _dir.Combine($"{artifacts}/{dataset}/{relative}");

    [MpiFact]
    public async Task Two_processes_started_by_mpirun_train_the_stage_the_same_bits_every_time_and_only_their_number_counts_for_freshness()
    {
        var dataset = Dataset();

        var (exitCode, output, error) = await Build(dataset);

        Assert.True(exitCode == 0, output + error);
        Assert.Contains("2 processes taking 4 of each batch of 8", output, StringComparison.Ordinal);
        Assert.Contains("starting 2 processes: mpirun -np 2 ", output, StringComparison.Ordinal);
        Assert.Contains("step 24: eval loss", output, StringComparison.Ordinal);
        Assert.Contains("bytes of gradients allreduced a step", output, StringComparison.Ordinal);
        var weights = File.ReadAllBytes(Artifacts(dataset, "train/model.bin"));
        Assert.False(File.Exists(Artifacts(dataset, "train-job.json")), "the job file is removed when the ranks end");
        Assert.True(File.Exists(Artifacts(dataset, "checkpoints/ckpt-00000024.ckpt")), "rank 0 wrote the checkpoints");

        // The ranks' shared evaluation (each its share, the sums allreduced) is what one process measures on the model
        // they wrote: Evaluate, in one process, on the same held-out split (test, as the dataset has no validation).
        var evaluate = await ChildProcess.RunAsync(Pipeline, ["run", "evaluate", "--root", _dir.Path, "--dataset", dataset, "--cache", "off"], TimeSpan.FromMinutes(2));
        Assert.True(evaluate.ExitCode == 0, evaluate.Out + evaluate.Error);
        var last = JsonNode.Parse(File.ReadAllText(Artifacts(dataset, "train/history.json")))!.AsArray()[^1]!;
        var metrics = JsonNode.Parse(File.ReadAllText(Artifacts(dataset, "eval/metrics.json")))!;
        // metrics.json rounds to 6 decimals.
        Assert.Equal((double)metrics["accuracy"]!, (double)last["eval_accuracy"]!, 1e-6);
        Assert.Equal((double)metrics["loss"]!, (double)last["eval_loss"]!, 1e-5);

        // Fresh: and what starts the ranks is not a parameter of the result, so another launcher finds it fresh too.
        var again = await Build(dataset, "--set", "train.distributed.launcher=srun");
        Assert.True(again.ExitCode == 0, again.Out + again.Error);
        Assert.Contains("Train: fresh", again.Out, StringComparison.Ordinal);

        // Two processes train bit for bit alike, run after run.
        var forced = await Build(dataset, "--force");
        Assert.True(forced.ExitCode == 0, forced.Out + forced.Error);
        Assert.Equal(weights, File.ReadAllBytes(Artifacts(dataset, "train/model.bin")));

        // The number of processes does count: batch normalization's statistics and dropout's draws are per process.
        var one = await Build(dataset, "--set", "train.distributed.processes=1");
        Assert.True(one.ExitCode == 0, one.Out + one.Error);
        // (One process leaves the section out of the parameters: its fingerprint is the one from before training could be distributed.)
        Assert.Contains("Train: stale — train.distributed.processes removed (was 2)", one.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("starting 2 processes", one.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("processes taking", one.Out, StringComparison.Ordinal);
    }

    [MpiFact]
    public async Task A_build_run_as_the_ranks_of_someone_elses_job_trains_what_mpirun_launched_by_the_stage_trains()
    {
        var dataset = Dataset();
        var launched = await Build(dataset);
        Assert.True(launched.ExitCode == 0, launched.Out + launched.Error);

        // Without a job around it, "none" says how to start one, and builds nothing.
        var alone = await Build(dataset, "--artifacts", _dir.Combine("alone"), "--set", "train.distributed.launcher=none");
        Assert.Equal(1, alone.ExitCode);
        Assert.Contains("error: train.distributed.launcher is \"none\", so the build must be started as the 2 ranks of an MPI job", alone.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine($"alone/{dataset}/train/model.bin")));

        // Ranks of an outside job whose dataset says the stage starts its own: refused, not a job inside a job; the
        // error is printed before MPI_Abort ends the other rank.
        var nested = await MpiRun.RunAsync(2, Pipeline, ["run", "train", "--root", _dir.Path, "--dataset", dataset, "--cache", "off", "--artifacts", _dir.Combine("nested")],
            TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, nested.ExitCode);
        Assert.Contains("error: the build runs as the 2 ranks of an MPI job, but train.distributed.launcher is \"mpirun\"", nested.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("starting 2 processes", nested.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine($"nested/{dataset}/train/model.bin")));

        string[] ranks = ["run", "train", "--root", _dir.Path, "--dataset", dataset, "--cache", "off", "--artifacts", _dir.Combine("ranks"), "--set", "train.distributed.launcher=none"];
        var (exitCode, output, error) = await MpiRun.RunAsync(2, Pipeline, ranks, TimeSpan.FromMinutes(4));

        Assert.True(exitCode == 0, output + error);
        Assert.Contains("2 processes taking 4 of each batch of 8", output, StringComparison.Ordinal);
        Assert.DoesNotContain("starting 2 processes", output, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(Artifacts(dataset, "train/model.bin")), File.ReadAllBytes(Artifacts(dataset, "train/model.bin", "ranks")));

        // Rank 0 finds everything fresh and releases the other rank, which ends too.
        var fresh = await MpiRun.RunAsync(2, Pipeline, ranks, TimeSpan.FromMinutes(1));
        Assert.True(fresh.ExitCode == 0, fresh.Out + fresh.Error);
        Assert.Contains("Train: fresh", fresh.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// Rank 1 is killed (SIGKILL) once rank 0 has written a checkpoint: mpirun ends the job, the stage fails saying so,
    /// nothing of Train looks built, and the next build resumes from the checkpoint and ends as an uninterrupted one.
    /// </summary>
    [MpiFact]
    public async Task A_killed_rank_fails_the_stage_leaving_nothing_fresh_and_the_next_build_resumes_to_the_same_weights()
    {
        var dataset = Dataset(steps: 3000, stepsPerEval: 100);
        var checkpoint = Artifacts(dataset, "checkpoints/ckpt-00000100.ckpt");
        var build = Build(dataset);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !build.IsCompleted && clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            await Task.Delay(10);
        }
        var killed = KillRank(1, Artifacts(dataset, "train-job.json"));
        var (exitCode, output, error) = await build;

        Assert.True(killed, $"no rank 1 to kill: {output} {error}");
        Assert.Equal(1, exitCode);
        Assert.Contains("error: the 2 training processes failed (mpirun exited with code", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Artifacts(dataset, "train/model.bin")), "no train output is committed");
        Assert.False(File.Exists(Artifacts(dataset, "train-job.json")));
        var status = await ChildProcess.RunAsync(Pipeline, ["status", "--root", _dir.Path, "--dataset", dataset], TimeSpan.FromMinutes(1));
        Assert.Matches(@"(?m)^\s*train\s+stale", status.Out.ToLowerInvariant());

        var resumed = await Build(dataset);
        Assert.True(resumed.ExitCode == 0, resumed.Out + resumed.Error);
        Assert.Matches(@"resuming from ckpt-\d{8}\.ckpt at step \d+ of 3000", resumed.Out);

        // An uninterrupted two-process training of the same job ends with the same bits.
        var uninterrupted = await Build(dataset, "--artifacts", _dir.Combine("uninterrupted"));
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Out + uninterrupted.Error);
        Assert.Equal(File.ReadAllBytes(Artifacts(dataset, "train/model.bin", "uninterrupted")), File.ReadAllBytes(Artifacts(dataset, "train/model.bin")));
    }

    /// <summary>SIGKILLs the rank of that number running the job in <paramref name="jobFile"/>, found by its command line and environment.</summary>
    private static bool KillRank(int rank, string jobFile)
    {
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), System.Globalization.CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(folder, "cmdline")).Split('\0');
                var environment = File.ReadAllText(Path.Combine(folder, "environ")).Split('\0');
                if (commandLine.Contains("train-rank") && commandLine.Contains(jobFile) && environment.Contains($"OMPI_COMM_WORLD_RANK={rank}"))
                {
                    Process.GetProcessById(pid).Kill();
                    return true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // The process ended while it was looked at.
            }
        }
        return false;
    }
}
