using System.IO.Hashing;
using System.Text;

namespace Pipeline.Core.Engine;

/// <summary>Content hashes used in fingerprints and the lock file: XxHash128, lower-case hex.</summary>
public static class ContentHash
{
    public static string OfFile(string path)
    {
        var hasher = new XxHash128();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        hasher.Append(stream);
        return Convert.ToHexStringLower(hasher.GetCurrentHash());
    }

    public static string OfBytes(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(XxHash128.Hash(bytes));

    public static string OfText(string text) => OfBytes(Encoding.UTF8.GetBytes(text));

    /// <summary>A short prefix for people: enough to tell two fingerprints apart in a status line.</summary>
    public static string Short(string hash) => hash.Length > 12 ? hash[..12] : hash;
}
