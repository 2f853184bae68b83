namespace Pipeline.Core.Tests.TestSupport;

/// <summary>A test that needs a <see cref="SmallDisk"/>: skipped, saying why, where one cannot be mounted.</summary>
public sealed class SmallDiskFactAttribute : FactAttribute
{
    public SmallDiskFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "a real full disk needs a small tmpfs, which only Linux mounts here";
        }
        else if (!Environment.IsPrivilegedProcess)
        {
            Skip = "a real full disk needs a small tmpfs, which only root can mount (CI runs as root)";
        }
    }
}
