using System.ComponentModel;
using System.Diagnostics;
using Pipeline.Core.Engine;

namespace Pipeline.Training.Train;

/// <summary>
/// Starts a distributed training's ranks with the launcher dataset.json names, from the Train stage's process (which
/// holds the artifacts lock and the staging folder): `mpirun -np N` or `srun --mpi=pmix --ntasks N`, each rank running
/// `pipeline train-rank --job FILE`. The ranks' lines become the stage's log; a rank that fails or is killed fails the
/// job (mpirun and srun end every rank then) and the stage, whose outputs are then never committed, while the
/// checkpoints rank 0 wrote stay for the next build to resume from.
/// </summary>
internal static class RankLauncher
{
    /// <summary>Hosts, host files and slot policies given to mpirun: with none of these the job runs on this machine.</summary>
    private static readonly string[] HostOptions = ["--host", "-H", "-host", "--hostfile", "-hostfile", "--machinefile", "-machinefile", "--default-hostfile", "--oversubscribe", "--nooversubscribe"];

    /// <summary>mpirun's arguments before the program.</summary>
    internal static string[] MpirunArguments(Core.Datasets.DistributedParameters distributed)
    {
        var given = distributed.LauncherArgs;
        return
        [
            "-np", distributed.Processes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Unbound: Open MPI would otherwise pin each of 2 ranks to one core, whatever threads each is given.
            .. given.Contains("--bind-to") ? [] : (string[])["--bind-to", "none"],
            // On this machine, however it counts its cores: Open MPI gives one slot per physical core, so a 2-vCPU
            // virtual machine whose vCPUs are one core's two hardware threads would refuse 2 ranks.
            .. given.Any(HostOptions.Contains) ? [] : (string[])["--oversubscribe"],
            .. given,
        ];
    }

    /// <summary>srun's arguments before the program.</summary>
    private static string[] SrunArguments(Core.Datasets.DistributedParameters distributed) =>
        ["--mpi=pmix", "--ntasks", distributed.Processes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--kill-on-bad-exit=1", .. distributed.LauncherArgs];

    public static void Run(TrainJob job, string jobFile, StageRun run)
    {
        var distributed = job.Train.Distributed;
        var launcher = distributed.Launcher;
        job.Write(jobFile);
        try
        {
            var (program, prefix) = RankProgram();
            var launch = launcher == "srun" ? SrunArguments(distributed) : MpirunArguments(distributed);
            var start = new ProcessStartInfo(launcher) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in (string[])[.. launch, program, .. prefix, "train-rank", "--job", jobFile])
            {
                start.ArgumentList.Add(argument);
            }
            // Open MPI gives ranks a pseudo-terminal; without a terminal type .NET writes no terminal codes into it.
            start.Environment["TERM"] = "dumb";
            if (launcher == "mpirun" && Environment.UserName == "root")
            {
                // Open MPI refuses root unless told twice; a build running as root (a container, CI) means it.
                start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
                start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
            }
            run.Log($"  starting {distributed.Processes} processes: {launcher} {string.Join(' ', start.ArgumentList)}");
            var exitCode = RunForwarding(start, run);
            if (exitCode != 0)
            {
                throw new PipelineException(
                    $"the {distributed.Processes} training processes failed ({launcher} exited with code {exitCode}); the lines above say which rank and why. "
                    + "The checkpoints rank 0 wrote are kept: the next build resumes from the newest");
            }
        }
        finally
        {
            File.Delete(jobFile);
        }
    }

    /// <summary>This pipeline program, as each rank runs it: the app host beside this assembly, else its dll through dotnet.</summary>
    private static (string Program, string[] Prefix) RankProgram()
    {
        var folder = AppContext.BaseDirectory;
        var host = Path.Combine(folder, OperatingSystem.IsWindows() ? "pipeline.exe" : "pipeline");
        if (File.Exists(host))
        {
            return (host, []);
        }
        var dll = Path.Combine(folder, "pipeline.dll");
        return File.Exists(dll)
            ? (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [dll])
            : throw new PipelineException("the pipeline program, which distributed training starts as each rank, is not beside the training library", folder);
    }

    /// <summary>Runs the launcher, its lines into the stage's log; cancelling the stage kills it and the ranks.</summary>
    private static int RunForwarding(ProcessStartInfo start, StageRun run)
    {
        var gate = new Lock();
        void Forward(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
            {
                lock (gate)
                {
                    run.Log(e.Data);
                }
            }
        }
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += Forward;
        process.ErrorDataReceived += Forward;
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new PipelineException(start.FileName == "srun"
                ? $"cannot start srun ({e.Message}): train.distributed.launcher \"srun\" needs Slurm's client on this machine"
                : $"cannot start mpirun ({e.Message}): install Open MPI (sudo apt-get install openmpi-bin libopenmpi-dev)");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // Cancelled: SIGTERM first, which mpirun and srun pass on to every rank; SIGKILL to the tree if that is not enough.
        Stopwatch? stopping = null;
        using (run.Cancellation.Register(() => Terminate(process)))
        {
            while (!process.WaitForExit(TimeSpan.FromMilliseconds(200)))
            {
                if (run.Cancellation.IsCancellationRequested && (stopping ??= Stopwatch.StartNew()).Elapsed > TerminateGrace)
                {
                    KillQuietly(process);
                }
            }
        }
        // Waits for the last forwarded lines.
        process.WaitForExit();
        run.Cancellation.ThrowIfCancellationRequested();
        return process.ExitCode;
    }

    /// <summary>How long the launcher has to end its ranks after SIGTERM before the whole tree is killed.</summary>
    private static readonly TimeSpan TerminateGrace = TimeSpan.FromSeconds(10);

    private static void Terminate(Process process)
    {
        try
        {
            if (!ProcessSignals.Terminate(process.Id))
            {
                KillQuietly(process);
            }
        }
        catch (InvalidOperationException)
        {
            // It has just ended.
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has just ended.
        }
    }
}
