using System.Diagnostics;

namespace Pipeline.Core.Engine;

/// <summary>One build at a time per artifacts folder: an exclusive file lock, with the holder named to whoever waits.</summary>
public sealed class ArtifactsLock : IDisposable
{
    private const string LockName = ".run.lock";
    private const string OwnerName = ".run.owner";
    private readonly FileStream _stream;
    private readonly string _ownerPath;

    private ArtifactsLock(FileStream stream, string ownerPath)
    {
        _stream = stream;
        _ownerPath = ownerPath;
    }

    /// <summary>Takes the lock, waiting up to <paramref name="timeout"/> (forever when null) and saying who holds it.</summary>
    public static ArtifactsLock Acquire(string artifactsDirectory, TimeSpan? timeout, Action<string> log)
    {
        Directory.CreateDirectory(artifactsDirectory);
        var lockPath = Path.Combine(artifactsDirectory, LockName);
        var ownerPath = Path.Combine(artifactsDirectory, OwnerName);
        var clock = Stopwatch.StartNew();
        var told = false;
        while (true)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                var holder = File.Exists(ownerPath) ? File.ReadAllText(ownerPath).Trim() : "another process";
                if (timeout is { } limit && clock.Elapsed >= limit)
                {
                    throw new PipelineException(
                        $"another build is using this artifacts folder: {holder}. Wait for it to finish, or stop it",
                        artifactsDirectory);
                }
                if (!told)
                {
                    log($"Waiting for {artifactsDirectory}: held by {holder}");
                    told = true;
                }
                Thread.Sleep(200);
                continue;
            }

            try
            {
                File.WriteAllText(ownerPath,
                    $"pid {Environment.ProcessId} ({string.Join(' ', Environment.GetCommandLineArgs())}), since {DateTime.Now:yyyy-MM-dd HH:mm:ss}\n");
            }
            catch
            {
                // Without this, a full disk would leave the lock held by this very process, which would then wait on itself.
                stream.Dispose();
                throw;
            }
            return new ArtifactsLock(stream, ownerPath);
        }
    }

    /// <summary>Whether a path in an artifacts folder is one of the lock's own files, which cleaning leaves alone.</summary>
    public static bool IsLockFile(string path) => Path.GetFileName(path) is LockName or OwnerName;

    public void Dispose()
    {
        try
        {
            File.Delete(_ownerPath);
        }
        finally
        {
            _stream.Dispose();
        }
    }
}
