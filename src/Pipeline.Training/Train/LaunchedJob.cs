using System.Text;
using Pipeline.Core.Distributed;
using Pipeline.Core.Engine;
using Pipeline.Training.Distributed;

namespace Pipeline.Training.Train;

/// <summary>
/// train.distributed.launcher "none": the build is itself the ranks of an MPI job someone else launched (an MPIJob's
/// launcher, or `mpirun -np N pipeline run train`). Rank 0 is the build: it takes the lock, decides what is stale and
/// runs the stages. The other ranks only follow: they wait for rank 0's Train stage to hand them its job, train their
/// share, and end; if rank 0 builds no Train stage, it releases them and they end at once.
/// </summary>
public static class LaunchedJob
{
    private static Mpi? _mpi;
    private static bool _handedOut;

    /// <summary>Whether this process was started as a rank of an MPI job (by mpirun, or srun with PMIx).</summary>
    public static bool Launched => Mpi.Launched;

    /// <summary>
    /// Joins the job this process is a rank of. On rank 0, returns null: the caller builds, and calls
    /// <see cref="Release"/> when done. On any other rank, follows rank 0 (trains its share of the Train stage, if rank 0
    /// runs one) and returns the exit code; an error aborts every rank.
    /// </summary>
    public static int? Join(Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var mpi = _mpi = Mpi.Init();
        if (mpi.Rank == 0)
        {
            return null;
        }
        return mpi.Run(() =>
        {
            if (ReceiveJobFile(mpi) is { } file)
            {
                using var parallel = new DataParallel(mpi);
                TrainRunner.Execute(TrainJob.Read(file), parallel, _ => { }, CancellationToken.None);
            }
            mpi.Dispose();
            return 0;
        }, e => Console.Error.WriteLine($"rank {mpi.Rank}: error: {e.Message}"));
    }

    /// <summary>
    /// Rank 0's end of the build: releases the other ranks if no Train stage handed them a job; on a failed build
    /// (<paramref name="failed"/>), ends them all with MPI_Abort instead, since they may be waiting in a collective call.
    /// </summary>
    public static void Release(bool failed)
    {
        if (_mpi is not { Rank: 0 } mpi)
        {
            return;
        }
        if (failed)
        {
            mpi.Abort(1);
            return;
        }
        if (!_handedOut)
        {
            SendJobFile(mpi, null);
        }
        mpi.Dispose();
    }

    /// <summary>The Train stage on rank 0: hands the job to the other ranks and trains rank 0's share here.</summary>
    /// <exception cref="PipelineException">The build is not a rank of an MPI job, or the job's size is not train.distributed.processes.</exception>
    internal static void RunAsLead(TrainJob job, string jobFile, StageRun run)
    {
        var processes = job.Train.Distributed.Processes;
        if (_mpi is not { } mpi)
        {
            throw new PipelineException(
                $"train.distributed.launcher is \"none\", so the build must be started as the {processes} ranks of an MPI job, "
                + $"e.g. mpirun -np {processes} build/.bin/pipeline run train --dataset NAME; or set the launcher to \"mpirun\" or \"srun\"");
        }
        if (mpi.Size != processes)
        {
            throw new PipelineException($"the MPI job has {mpi.Size} ranks and train.distributed.processes is {processes}: launch it with -np {processes}");
        }
        if (_handedOut)
        {
            throw new InvalidOperationException("a launched job trains once");
        }
        job.Write(jobFile);
        try
        {
            SendJobFile(mpi, jobFile);
            _handedOut = true;
            using var parallel = new DataParallel(mpi);
            TrainRunner.Execute(job, parallel, run.Log, run.Cancellation);
        }
        finally
        {
            File.Delete(jobFile);
        }
    }

    /// <summary>Broadcasts the job file's path (the artifacts folder is shared by every rank), or an empty one for "no training".</summary>
    private static void SendJobFile(Mpi mpi, string? path)
    {
        var bytes = Encoding.UTF8.GetBytes(path ?? "");
        Span<byte> length = BitConverter.GetBytes(bytes.Length);
        mpi.Broadcast(length);
        if (bytes.Length > 0)
        {
            mpi.Broadcast(bytes);
        }
    }

    private static string? ReceiveJobFile(Mpi mpi)
    {
        Span<byte> length = stackalloc byte[sizeof(int)];
        mpi.Broadcast(length);
        var bytes = new byte[BitConverter.ToInt32(length)];
        if (bytes.Length == 0)
        {
            return null;
        }
        mpi.Broadcast(bytes);
        return Encoding.UTF8.GetString(bytes);
    }
}
