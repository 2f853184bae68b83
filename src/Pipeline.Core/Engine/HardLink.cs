using System.Runtime.InteropServices;

namespace Pipeline.Core.Engine;

/// <summary>Hard links, which .NET has no API for: link(2) on Linux and macOS, CreateHardLinkW on Windows.</summary>
internal static partial class HardLink
{
    /// <summary>Makes <paramref name="link"/> another name for <paramref name="existing"/>; false where that is impossible
    /// (another file system, a file system without hard links), and the caller copies instead.</summary>
    public static bool TryCreate(string existing, string link)
    {
        try
        {
            return OperatingSystem.IsWindows()
                ? CreateHardLinkW(link, existing, IntPtr.Zero)
                : LinkUnix(existing, link) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>A hard link where the file system allows one, else a copy: the target's bytes are the source's either way.</summary>
    public static void CreateOrCopy(string existing, string target)
    {
        if (!TryCreate(existing, target))
        {
            File.Copy(existing, target);
        }
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkUnix(string existing, string link);

    [LibraryImport("kernel32.dll", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool CreateHardLinkW(string link, string existing, IntPtr securityAttributes);
}
