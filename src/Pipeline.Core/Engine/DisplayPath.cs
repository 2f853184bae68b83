namespace Pipeline.Core.Engine;

/// <summary>Paths as people see them in messages and origins: relative to a root when under it, else full.</summary>
public static class DisplayPath
{
    public static string Relative(string path, string root)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(Path.GetFullPath(root), full);
        var outside = Path.IsPathRooted(relative) || relative == ".."
            || relative.StartsWith($"..{Path.DirectorySeparatorChar}", StringComparison.Ordinal);
        return outside ? full : relative.Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>Relative to the current folder: the build and the pipeline command run from the repository root.</summary>
    public static string FromCurrentDirectory(string path) => Relative(path, Directory.GetCurrentDirectory());
}
