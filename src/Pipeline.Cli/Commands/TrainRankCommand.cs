using System.CommandLine;
using Pipeline.Core.Distributed;
using Pipeline.Core.Engine;
using Pipeline.Training.Distributed;
using Pipeline.Training.Train;

namespace Pipeline.Cli.Commands;

/// <summary>
/// `pipeline train-rank --job FILE`: one rank of a distributed Train stage, as the stage starts it through mpirun or
/// srun. Not for people: the stage writes the job file (what to train, where rank 0 writes the outputs) and waits.
/// </summary>
internal static class TrainRankCommand
{
    public static Command Create()
    {
        var job = new Option<string>("--job") { Description = "The training job file the Train stage wrote", Required = true };
        var command = new Command("train-rank", "Run as each rank of a distributed Train stage (the stage starts it)") { job };
        command.Hidden = true;
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            using var mpi = Mpi.Init();
            return mpi.Run(() =>
            {
                var training = TrainJob.Read(parse.GetValue(job)!);
                if (mpi.Size != training.Train.Distributed.Processes)
                {
                    throw new PipelineException($"the MPI job has {mpi.Size} ranks and the training asks for {training.Train.Distributed.Processes}");
                }
                using var parallel = new DataParallel(mpi);
                training.Run(parallel, Console.WriteLine, CancellationToken.None);
                return 0;
            }, e => Console.Error.WriteLine($"rank {mpi.Rank}: error: {e.Message}"));
        }));
        return command;
    }
}
