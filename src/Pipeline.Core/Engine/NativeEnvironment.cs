using System.Runtime.InteropServices;

namespace Pipeline.Core.Engine;

/// <summary>
/// The process environment native libraries read with getenv. .NET's Environment.SetEnvironmentVariable changes only
/// .NET's own copy on Unix, so a setting a native library reads when it loads (OpenMP's wait policy) is made here,
/// before the library is loaded.
/// </summary>
public static partial class NativeEnvironment
{
    /// <summary>
    /// libtorch's OpenMP threads (GNU libgomp) sleep as soon as they wait (OMP_WAIT_POLICY=PASSIVE) instead of spinning
    /// on their cores first, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set. Spinning threads of two trainings
    /// (or a training and a test run) on the same cores take those cores from each other: measured on 2 cores, two
    /// trainings at once ran at 301–326 images/s each with libgomp's default and 675–842 with this, and one alone no
    /// slower beyond the machine's noise (build/benchmark-sharing.sh). Call before any TorchSharp use.
    /// </summary>
    /// <returns>Whether it set the policy.</returns>
    public static bool PreferSleepingOpenMpThreads()
    {
        if (OperatingSystem.IsWindows()
            || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null
            || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
        {
            return false;
        }
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
        return SetEnv("OMP_WAIT_POLICY", "PASSIVE", overwrite: 0) == 0;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
