using System.Diagnostics;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.BuildScripts;

/// <summary>
/// build.sh's machine set-up, run from a copy of the script against fake system commands (ldconfig, apt-get,
/// dotnet) on PATH: what it decides to install, without installing anything.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BuildShTests : IDisposable
{
    private const string IcuLine = "\tlibicuuc.so.72 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libicuuc.so.72";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_no_op_build_with_ICU_installed_never_runs_apt_in_50_runs()
    {
        // ICU is listed first and followed by thousands of lines, as on a real machine: `ldconfig -p | grep -q`
        // under pipefail fails here on nearly every run (grep exits at the match, ldconfig dies of SIGPIPE).
        var fakes = Fakes(IcuLine + "\n" + string.Concat(Enumerable.Repeat("\tlibfoo.so.1 (libc6,x86-64) => /usr/lib/libfoo.so.1\n", 20_000)));

        for (var run = 0; run < 50; run++)
        {
            var (exitCode, output) = RunBuildSh(fakes);

            Assert.True(exitCode == 0, $"run {run + 1}: build.sh exited {exitCode}:\n{output}");
            Assert.False(File.Exists(_dir.Combine("apt-calls.log")),
                $"run {run + 1}: a no-op build called apt: {(File.Exists(_dir.Combine("apt-calls.log")) ? File.ReadAllText(_dir.Combine("apt-calls.log")) : "")}\n{output}");
        }
    }

    [Fact]
    public void Without_ICU_build_sh_sets_it_up_or_says_how_and_stops_when_that_fails()
    {
        var fakes = Fakes("\tlibfoo.so.1 (libc6,x86-64) => /usr/lib/libfoo.so.1\n");

        var (exitCode, output) = RunBuildSh(fakes);

        // The fake apt-get fails, so either way the build must stop rather than go on without ICU.
        Assert.True(exitCode != 0, "build.sh went on without ICU:\n" + output);
        if (Environment.UserName == "root")
        {
            // As root on Debian it asks apt for ICU (the fake apt fails, and that failure must stop the build).
            Assert.True(File.Exists(_dir.Combine("apt-calls.log")), "build.sh, as root, did not try to install ICU:\n" + output);
        }
        else
        {
            Assert.Contains("needs ICU", output);
        }
    }

    /// <summary>A folder of fake commands: ldconfig printing <paramref name="ldconfigListing"/>, apt that only logs, a dotnet that does nothing.</summary>
    private string Fakes(string ldconfigListing)
    {
        var listing = _dir.WriteText("ldconfig-listing.txt", ldconfigListing);
        var calls = _dir.Combine("apt-calls.log");
        WriteScript("fakes/ldconfig", $"#!/bin/bash\ncat '{listing}'\n");
        foreach (var apt in new[] { "apt-get", "apt-cache" })
        {
            WriteScript($"fakes/{apt}", $"#!/bin/bash\necho \"{apt} $*\" >> '{calls}'\nexit 1\n");
        }
        WriteScript("fakes/dotnet", "#!/bin/bash\nexit 0\n");
        return _dir.Combine("fakes");
    }

    private void WriteScript(string relative, string text)
    {
        var path = _dir.WriteText(relative, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Runs a copy of build.sh (in a folder of its own, so the stamp it writes lands there) for a target that needs no set-up beyond ICU.</summary>
    private (int ExitCode, string Output) RunBuildSh(string fakes)
    {
        var copy = _dir.Combine("repo/build.sh");
        if (!File.Exists(copy))
        {
            File.Copy(Path.Combine(Repository.Root, "build.sh"), copy);
            Directory.CreateDirectory(_dir.Combine("repo/src"));
            foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" })
            {
                _dir.WriteText($"repo/{file}", "");
            }
            Directory.CreateDirectory(_dir.Combine("repo/build/.bin"));
            Directory.CreateDirectory(_dir.Combine("nuget/cake.tool/7.0.0"));
        }
        var start = new ProcessStartInfo("bash", [copy, "--target=Status", "--dataset=not-the-default"])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PATH"] = fakes + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment["NUGET_PACKAGES"] = _dir.Combine("nuget");
        start.Environment.Remove("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
