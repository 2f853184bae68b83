using System.Diagnostics;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>
/// A tmpfs of a few kilobytes mounted for one test, so a write that does not fit fails with the real ENOSPC
/// ("No space left on device") rather than a simulated exception. Needs root on Linux: see <see cref="SmallDiskFactAttribute"/>.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    private readonly TempDirectory _mountPoint = new();

    public SmallDisk(int kilobytes)
    {
        Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", _mountPoint.Path);
    }

    /// <summary>The mounted folder.</summary>
    public string Path => _mountPoint.Path;

    public string Combine(string relative) => _mountPoint.Combine(relative);

    /// <summary>Writes zeros to <paramref name="relative"/> until the disk is full, leaving not one byte free.</summary>
    public string Fill(string relative = "filler")
    {
        var path = Combine(relative);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
        }
        // A partial block may still fit.
        try
        {
            while (true)
            {
                file.Write(block, 0, 1);
            }
        }
        catch (IOException)
        {
        }
        return path;
    }

    public void Dispose()
    {
        Run("umount", "-l", _mountPoint.Path);
        _mountPoint.Dispose();
    }

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        }
    }
}
