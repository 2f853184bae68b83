using System.Runtime.InteropServices;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Distributed;

/// <summary>
/// The MPI calls data-parallel training needs, called in Open MPI's libmpi.so.40 (Debian's openmpi-bin and
/// libopenmpi-dev) through P/Invoke: no .NET MPI binding is published. One per process: Init on creation, Finalize on
/// dispose. Open MPI's handles are the addresses of its exported objects (MPI_COMM_WORLD is &amp;ompi_mpi_comm_world),
/// so they are read from the library; this is Open MPI's ABI, not MPICH's. A failing call aborts every rank (MPI's
/// default error handler), as a data-parallel job must: no rank can go on alone; a failure outside MPI must do the
/// same through <see cref="Run{T}"/> or <see cref="Abort"/>.
/// </summary>
public sealed partial class Mpi : IDisposable
{
    private const string Library = "libmpi.so.40";

    /// <summary>MPI_IN_PLACE in Open MPI's mpi.h.</summary>
    private static readonly IntPtr InPlace = 1;

    private readonly IntPtr _world;
    private readonly IntPtr _float;
    private readonly IntPtr _double;
    private readonly IntPtr _byte;
    private readonly IntPtr _sum;
    private int _finalized;

    private Mpi(IntPtr library)
    {
        _world = NativeLibrary.GetExport(library, "ompi_mpi_comm_world");
        _float = NativeLibrary.GetExport(library, "ompi_mpi_float");
        _double = NativeLibrary.GetExport(library, "ompi_mpi_double");
        _byte = NativeLibrary.GetExport(library, "ompi_mpi_byte");
        _sum = NativeLibrary.GetExport(library, "ompi_mpi_op_sum");
        Check(MPI_Init(IntPtr.Zero, IntPtr.Zero), "MPI_Init");
        Check(MPI_Comm_rank(_world, out var rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(_world, out var size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <summary>This process's rank in MPI_COMM_WORLD: 0 writes checkpoints and outputs.</summary>
    public int Rank { get; }

    /// <summary>The number of processes in the job.</summary>
    public int Size { get; }

    /// <summary>Whether a launcher (mpirun, srun with PMIx) started this process as one rank of a job.</summary>
    public static bool Launched =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>
    /// The size of the job a launcher started this process in, from its environment, before MPI is initialized:
    /// mpirun's OMPI_COMM_WORLD_SIZE, else srun's SLURM_STEP_NUM_TASKS under PMIx; 1 when not launched.
    /// </summary>
    public static int LaunchedSize =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), System.Globalization.CultureInfo.InvariantCulture, out var ompi) ? ompi
        : Environment.GetEnvironmentVariable("PMIX_RANK") is not null
            && int.TryParse(Environment.GetEnvironmentVariable("SLURM_STEP_NUM_TASKS"), System.Globalization.CultureInfo.InvariantCulture, out var slurm) ? slurm
        : 1;

    /// <summary>
    /// The ranks of this job on this machine: Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, else Slurm's
    /// SLURM_STEP_TASKS_PER_NODE (its first count), else the whole job's size.
    /// </summary>
    public int LocalSize =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), System.Globalization.CultureInfo.InvariantCulture, out var local) && local >= 1 ? local
        : int.TryParse(Environment.GetEnvironmentVariable("SLURM_STEP_TASKS_PER_NODE")?.Split('(', ',')[0], System.Globalization.CultureInfo.InvariantCulture, out var perNode) && perNode >= 1 ? perNode
        : Size;

    /// <summary>Loads Open MPI and initializes it.</summary>
    /// <exception cref="PipelineException">Open MPI is not installed.</exception>
    public static Mpi Init()
    {
        if (!NativeLibrary.TryLoad(Library, out var library))
        {
            throw new PipelineException($"Open MPI's {Library} is not installed; install it with: sudo apt-get install openmpi-bin libopenmpi-dev");
        }
        return new Mpi(library);
    }

    /// <summary>Replaces each value with its sum over every rank (MPI_Allreduce in place).</summary>
    public void AllreduceSum(Span<float> values)
    {
        unsafe
        {
            fixed (float* data = values)
            {
                Check(MPI_Allreduce(InPlace, (IntPtr)data, values.Length, _float, _sum, _world), "MPI_Allreduce");
            }
        }
    }

    /// <summary>Replaces each value with its sum over every rank (MPI_Allreduce in place): for sums a float would round, as a split's loss.</summary>
    public void AllreduceSum(Span<double> values)
    {
        unsafe
        {
            fixed (double* data = values)
            {
                Check(MPI_Allreduce(InPlace, (IntPtr)data, values.Length, _double, _sum, _world), "MPI_Allreduce");
            }
        }
    }

    /// <summary>Replaces the values on every rank with <paramref name="root"/>'s (MPI_Bcast).</summary>
    public void Broadcast(Span<float> values, int root = 0)
    {
        unsafe
        {
            fixed (float* data = values)
            {
                Check(MPI_Bcast((IntPtr)data, values.Length, _float, root, _world), "MPI_Bcast");
            }
        }
    }

    /// <summary>Replaces the bytes on every rank with <paramref name="root"/>'s (MPI_Bcast).</summary>
    public void Broadcast(Span<byte> bytes, int root = 0)
    {
        unsafe
        {
            fixed (byte* data = bytes)
            {
                Check(MPI_Bcast((IntPtr)data, bytes.Length, _byte, root, _world), "MPI_Bcast");
            }
        }
    }

    /// <summary>
    /// <see cref="Broadcast(Span{byte}, int)"/> for a rank that may wait long (minutes, while rank 0 builds other
    /// stages): a non-blocking MPI_Ibcast tested every <paramref name="poll"/>, so the waiting rank sleeps instead of
    /// spinning on a core as Open MPI's blocking calls do. Every rank of the broadcast must call this one.
    /// </summary>
    public void BroadcastPatiently(Span<byte> bytes, TimeSpan poll, int root = 0)
    {
        unsafe
        {
            fixed (byte* data = bytes)
            {
                Check(MPI_Ibcast((IntPtr)data, bytes.Length, _byte, root, _world, out var request), "MPI_Ibcast");
                while (true)
                {
                    Check(MPI_Test(ref request, out var done, IntPtr.Zero), "MPI_Test");
                    if (done != 0)
                    {
                        return;
                    }
                    Thread.Sleep(poll);
                }
            }
        }
    }

    /// <summary>Returns once every rank has called it.</summary>
    public void Barrier() => Check(MPI_Barrier(_world), "MPI_Barrier");

    /// <summary>
    /// Ends the whole job, every rank, with <paramref name="code"/> (MPI_Abort): what a rank must do when it fails
    /// outside MPI, since the others would otherwise wait in their next collective call for ever.
    /// </summary>
    public void Abort(int code)
    {
        if (Interlocked.Exchange(ref _finalized, 1) == 0)
        {
            _ = MPI_Abort(_world, code);
        }
    }

    /// <summary>Runs <paramref name="body"/> as this rank's work: an exception aborts the whole job (see <see cref="Abort"/>) after it is reported.</summary>
    public T Run<T>(Func<T> body, Action<Exception> report)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(report);
        try
        {
            return body();
        }
        catch (Exception e)
        {
            report(e);
            Abort(1);
            throw;
        }
    }

    /// <summary>MPI_Finalize; once, and never after <see cref="Abort"/>. A failure here is not reported: the job's work is done.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _finalized, 1) == 0)
        {
            _ = MPI_Finalize();
        }
    }

    private static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new PipelineException($"{call} failed with MPI error {status}");
        }
    }

    [LibraryImport(Library)]
    private static partial int MPI_Init(IntPtr argc, IntPtr argv);

    [LibraryImport(Library)]
    private static partial int MPI_Finalize();

    [LibraryImport(Library)]
    private static partial int MPI_Comm_rank(IntPtr comm, out int rank);

    [LibraryImport(Library)]
    private static partial int MPI_Comm_size(IntPtr comm, out int size);

    [LibraryImport(Library)]
    private static partial int MPI_Allreduce(IntPtr send, IntPtr receive, int count, IntPtr datatype, IntPtr op, IntPtr comm);

    [LibraryImport(Library)]
    private static partial int MPI_Bcast(IntPtr buffer, int count, IntPtr datatype, int root, IntPtr comm);

    [LibraryImport(Library)]
    private static partial int MPI_Ibcast(IntPtr buffer, int count, IntPtr datatype, int root, IntPtr comm, out IntPtr request);

    /// <param name="status">MPI_STATUS_IGNORE, which is a null pointer in Open MPI.</param>
    [LibraryImport(Library)]
    private static partial int MPI_Test(ref IntPtr request, out int flag, IntPtr status);

    [LibraryImport(Library)]
    private static partial int MPI_Barrier(IntPtr comm);

    [LibraryImport(Library)]
    private static partial int MPI_Abort(IntPtr comm, int code);
}
