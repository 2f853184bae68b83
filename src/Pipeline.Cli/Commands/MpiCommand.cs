using System.CommandLine;
using System.Diagnostics;
using Pipeline.Core.Distributed;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>
/// `pipeline mpi check`, run as every rank of a job (mpirun -np 2 build/.bin/pipeline mpi check, or srun --mpi=pmix):
/// checks that the ranks find each other and that allreduce and broadcast give the right values, and times an
/// allreduce of a model's gradients, as horovodrun --check-build does for Horovod.
/// </summary>
internal static class MpiCommand
{
    public static Command Create()
    {
        var floats = new Option<int>("--floats")
        {
            Description = "Floats per allreduce (default: 11,689,512, ResNet-18's parameters)",
            DefaultValueFactory = _ => 11_689_512,
        };
        var check = new Command("check", "Run as each rank of an MPI job: check allreduce and broadcast across the ranks, and time an allreduce") { floats };
        check.SetAction(parse => CommonOptions.Guard(() =>
        {
            var count = parse.GetValue(floats);
            if (count < 1)
            {
                throw new PipelineException($"--floats is {count}; at least 1");
            }
            using var mpi = Mpi.Init();
            return mpi.Run(() => Check(mpi, count), e => Console.Error.WriteLine($"rank {mpi.Rank}: error: {e.Message}"));
        }));
        var steps = new Option<int>("--steps") { Description = "Training steps", DefaultValueFactory = _ => 30 };
        var batch = new Option<int>("--batch") { Description = "Global batch: every rank takes an equal share", DefaultValueFactory = _ => 32 };
        var output = new Option<string>("--out") { Description = "File rank 0 writes the final weights to (float32)", Required = true };
        var equivalence = new Command("equivalence",
            "Run as each rank: train a small network data-parallel (each rank a share of every batch, gradients averaged) and write the final weights, "
            + "to compare with a job of another size")
        {
            steps, batch, output,
        };
        equivalence.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var mpi = Mpi.Init();
            var global = parse.GetValue(batch);
            if (global < 1 || global % mpi.Size != 0)
            {
                throw new PipelineException($"--batch is {global}; it must be a positive multiple of the {mpi.Size} ranks");
            }
            var result = mpi.Run(() => Training.Train.DataParallelCheck.Run(mpi, parse.GetValue(steps), global, Path.GetFullPath(parse.GetValue(output)!)),
                e => Console.Error.WriteLine($"rank {mpi.Rank}: error: {e.Message}"));
            if (mpi.Rank == 0)
            {
                Console.WriteLine($"{mpi.Size} rank(s), {parse.GetValue(steps)} steps of a global batch of {global} ({global / mpi.Size} per rank): last loss on rank 0's share {result.FinalLoss:0.000000}; "
                    + $"{result.BytesPerStep:N0} bytes allreduced per step, {result.Exchanging.TotalMilliseconds / Math.Max(1, parse.GetValue(steps)):0.000} ms per step in allreduce "
                    + $"of {result.Total.TotalMilliseconds / Math.Max(1, parse.GetValue(steps)):0.000} ms; weights in {parse.GetValue(output)}");
            }
            return 0;
        }));
        return new Command("mpi", "MPI: check a job's ranks, and that data-parallel training on them computes one process's steps") { check, equivalence };
    }

    /// <summary>This rank's part of `mpi check`: allreduce and broadcast of known values, then a timed allreduce; 1 when a value is wrong.</summary>
    private static int Check(Mpi mpi, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = (mpi.Rank + 1) * (i % 1000 + 1);
        }
        mpi.AllreduceSum(values);
        // Σ over ranks r of (r + 1)·k = k·N(N + 1)/2.
        var ranks = mpi.Size * (mpi.Size + 1) / 2f;
        var wrong = Enumerable.Range(0, count).FirstOrDefault(i => values[i] != ranks * (i % 1000 + 1), -1);
        var broadcast = new float[Math.Min(count, 1024)];
        for (var i = 0; i < broadcast.Length; i++)
        {
            broadcast[i] = mpi.Rank == 0 ? i * 0.5f : -1;
        }
        mpi.Broadcast(broadcast);
        var broadcastRight = broadcast.Select((v, i) => v == i * 0.5f).All(ok => ok);
        var times = new List<double>();
        for (var round = 0; round < 5; round++)
        {
            mpi.Barrier();
            var start = Stopwatch.GetTimestamp();
            mpi.AllreduceSum(values);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        var median = times.Order().ElementAt(times.Count / 2);
        var megabytes = count * 4.0 / (1024 * 1024);
        Console.WriteLine($"rank {mpi.Rank} of {mpi.Size}: allreduce of {count:N0} floats {(wrong < 0 ? "correct" : $"WRONG at {wrong}: {values[wrong]} instead of {ranks * (wrong % 1000 + 1)}")}, "
            + $"broadcast {(broadcastRight ? "correct" : "WRONG")}; allreduce of {megabytes:0.0} MB: median {median:0.00} ms of 5");
        mpi.Barrier();
        return wrong < 0 && broadcastRight ? 0 : 1;
    }
}
