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

    /// <summary>How often a following rank looks whether rank 0 has handed it the training.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Whether this process was started as one rank of an MPI job of several (by mpirun, or srun with PMIx). A job of
    /// one (srun ./build.sh in a one-task allocation) is an ordinary build.
    /// </summary>
    public static bool Launched => Mpi.Launched && Mpi.LaunchedSize > 1;

    /// <summary>The job this build is rank 0 of, or null when it was not launched as one.</summary>
    internal static Mpi? Job => _mpi;

    /// <summary>Whether this process has joined a launched job (see <see cref="Join"/>).</summary>
    public static bool Joined => _mpi is not null;

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
            if (Receive(mpi) is { } job)
            {
                using var parallel = new DataParallel(mpi);
                TrainRunner.Execute(job, parallel, _ => { }, CancellationToken.None);
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
            Send(mpi, null);
        }
        mpi.Dispose();
    }

    /// <summary>The Train stage on rank 0: hands the job to the other ranks and trains rank 0's share here.</summary>
    /// <exception cref="PipelineException">The build is not a rank of an MPI job, or the job's size is not train.distributed.processes.</exception>
    internal static void RunAsLead(TrainJob job, StageRun run)
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
        Send(mpi, job);
        _handedOut = true;
        using var parallel = new DataParallel(mpi);
        TrainRunner.Execute(job, parallel, run.Log, run.Cancellation);
    }

    /// <summary>
    /// Broadcasts the job itself (its JSON), or an empty message for "no training": its length patiently (the others
    /// may have waited through every stage before Train), then its bytes.
    /// </summary>
    private static void Send(Mpi mpi, TrainJob? job)
    {
        var bytes = job is null ? [] : Encoding.UTF8.GetBytes(job.ToJson());
        Span<byte> length = BitConverter.GetBytes(bytes.Length);
        mpi.BroadcastPatiently(length, Poll);
        if (bytes.Length > 0)
        {
            mpi.Broadcast(bytes);
        }
    }

    private static TrainJob? Receive(Mpi mpi)
    {
        Span<byte> length = stackalloc byte[sizeof(int)];
        mpi.BroadcastPatiently(length, Poll);
        var bytes = new byte[BitConverter.ToInt32(length)];
        if (bytes.Length == 0)
        {
            return null;
        }
        mpi.Broadcast(bytes);
        return TrainJob.FromJson(Encoding.UTF8.GetString(bytes), "the training job rank 0 sent");
    }
}
