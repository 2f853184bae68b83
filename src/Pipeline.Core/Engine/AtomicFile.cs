using System.Text;

namespace Pipeline.Core.Engine;

/// <summary>Whole-file writes that are either complete or absent: write beside, then rename over.</summary>
/// <remarks>
/// No fsync: it would force the stage's freshly written outputs to disk too (ext4 orders data before metadata),
/// doubling a stage's time, and safety does not need it: outputs are verified against their recorded hashes,
/// so a write torn by power loss makes its stage stale, never falsely fresh.
/// </remarks>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes) => File.Move(WriteBeside(path, bytes), path, overwrite: true);

    /// <summary>
    /// Writes the content to a temporary file beside <paramref name="path"/> and returns its path, for the caller to
    /// rename over <paramref name="path"/> when it chooses. A write that fails (a full disk) leaves no temporary file.
    /// </summary>
    public static string WriteBeside(string path, ReadOnlySpan<byte> bytes)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None);
            stream.Write(bytes);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        return temp;
    }
}
