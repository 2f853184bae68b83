using System.Runtime.InteropServices;

namespace Pipeline.Core.Engine;

/// <summary>Signals .NET's Process does not send: SIGTERM, which lets a launcher (mpirun, srun) end its ranks before it goes.</summary>
public static partial class ProcessSignals
{
    private const int SigTerm = 15;

    /// <summary>Sends SIGTERM to <paramref name="pid"/>; false where it could not (gone, or not a Unix system).</summary>
    public static bool Terminate(int pid) => !OperatingSystem.IsWindows() && Kill(pid, SigTerm) == 0;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
