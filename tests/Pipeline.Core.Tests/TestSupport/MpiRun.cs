namespace Pipeline.Core.Tests.TestSupport;

/// <summary>A command run as the ranks of an Open MPI job on this machine, through Debian's mpirun.</summary>
public static class MpiRun
{
    public const string Mpirun = "/usr/bin/mpirun";
    public const string RequireVariable = "PIPELINE_REQUIRE_MPI";

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="arguments"/> as <paramref name="ranks"/> ranks, over shared
    /// memory (one machine), more ranks than cores allowed, as root where the tests run as root; returns the exit
    /// code and standard output and error.
    /// </summary>
    public static Task<(int ExitCode, string Out, string Error)> RunAsync(int ranks, string program, IEnumerable<string> arguments, TimeSpan timeout) =>
        ChildProcess.RunAsync(Mpirun,
            ["--oversubscribe", "--mca", "btl", "self,vader", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), program, .. arguments],
            timeout,
            new Dictionary<string, string> { ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1" });
}

/// <summary>A test that runs an MPI job: skipped, saying why, without Open MPI, unless <see cref="MpiRun.RequireVariable"/> is set.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (!File.Exists(MpiRun.Mpirun) && Environment.GetEnvironmentVariable(MpiRun.RequireVariable) is null)
        {
            Skip = $"Open MPI is not installed (apt-get install openmpi-bin libopenmpi-dev; ./build.sh --target=Test installs it and sets {MpiRun.RequireVariable})";
        }
    }
}
