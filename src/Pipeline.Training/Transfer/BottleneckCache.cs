using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Pipeline.Core.Engine;

namespace Pipeline.Training.Transfer;

/// <summary>
/// Bottlenecks (a frozen backbone's output for one image) kept between builds, as TensorFlow for Poets caches them:
/// one file per image under the backbone's fingerprint, named by the image's content hash. Adding ten images
/// computes ten bottlenecks; another backbone finds none of the old ones; training parameters do not enter at all.
/// Each file carries a checksum; one that fails to read is computed again, with a warning naming it.
/// </summary>
/// <remarks>Files are written beside and renamed, so a killed build leaves whole entries or none.</remarks>
public sealed class BottleneckCache
{
    private const uint Magic = 0x31544E42; // "BNT1"
    private const int HeaderSize = 12; // magic, value count, XxHash32 of the values

    private readonly string _folder;
    private readonly Action<string> _warn;

    /// <param name="root">The cache's folder (artifacts/&lt;dataset&gt;/bottleneck-cache).</param>
    /// <param name="backboneFingerprint">Which backbone computed the entries; each backbone has a folder of its own.</param>
    public BottleneckCache(string root, string backboneFingerprint, Action<string> warn)
    {
        _folder = Path.Combine(root, ContentHash.Short(backboneFingerprint));
        _warn = warn;
    }

    /// <summary>How many bottlenecks the last <see cref="GetOrCompute"/> computed and how many it found.</summary>
    public (int Computed, int Reused) Last { get; private set; }

    /// <summary>
    /// The bottleneck of every image, from the cache where it holds one; the others are computed in batches and each
    /// batch stored as soon as it is done, so a build stopped half-way keeps what it finished.
    /// </summary>
    /// <param name="hashes">Each image's content hash.</param>
    /// <param name="compute">Computes the bottlenecks of the images at the given indices (at most <paramref name="batch"/>).</param>
    /// <param name="progress">Told (computed so far, to compute) after each batch.</param>
    public IReadOnlyList<float[]> GetOrCompute(IReadOnlyList<string> hashes, Func<IReadOnlyList<int>, IReadOnlyList<float[]>> compute,
        int batch = 16, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(hashes);
        ArgumentNullException.ThrowIfNull(compute);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var result = new float[hashes.Count][];
        var missing = new List<int>();
        // An image twice in the dataset (a duplicate) is computed once.
        var pending = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < hashes.Count; i++)
        {
            if (pending.TryGetValue(hashes[i], out var twins))
            {
                twins.Add(i);
            }
            else if (TryRead(PathOf(hashes[i])) is { } cached)
            {
                result[i] = cached;
            }
            else
            {
                pending[hashes[i]] = [i];
                missing.Add(i);
            }
        }
        for (var start = 0; start < missing.Count; start += batch)
        {
            var indices = missing.GetRange(start, Math.Min(batch, missing.Count - start));
            var values = compute(indices);
            if (values.Count != indices.Count)
            {
                throw new InvalidOperationException($"asked for {indices.Count} bottlenecks, given {values.Count}");
            }
            for (var k = 0; k < indices.Count; k++)
            {
                Write(PathOf(hashes[indices[k]]), values[k]);
                foreach (var i in pending[hashes[indices[k]]])
                {
                    result[i] = values[k];
                }
            }
            progress?.Invoke(start + indices.Count, missing.Count);
        }
        Last = (missing.Count, hashes.Count - missing.Count);
        return result;
    }

    /// <summary>How many distinct images of <paramref name="hashes"/> have no entry yet (by file presence alone: cheap enough for a status check).</summary>
    public int CountMissing(IEnumerable<string> hashes) => hashes.Distinct(StringComparer.Ordinal).Count(h => !File.Exists(PathOf(h)));

    private string PathOf(string hash)
    {
        if (hash.Length < 3 || !hash.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"\"{hash}\" is not a content hash", nameof(hash));
        }
        return Path.Combine(_folder, hash[..2], hash + ".f32");
    }

    private float[]? TryRead(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            {
                throw new InvalidDataException("not a bottleneck file");
            }
            var count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
            var payload = bytes.AsSpan(HeaderSize);
            if (count < 0 || payload.Length != count * sizeof(float))
            {
                throw new InvalidDataException($"it should hold {count} values in {count * sizeof(float)} bytes, not {payload.Length}");
            }
            if (XxHash32.HashToUInt32(payload) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)))
            {
                throw new InvalidDataException("its checksum does not match");
            }
            return MemoryMarshal.Cast<byte, float>(payload).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            _warn($"warning: bottleneck {DisplayPath.FromCurrentDirectory(path)} cannot be read ({e.Message}); computing it again");
            return null;
        }
    }

    private static void Write(string path, float[] values)
    {
        var payload = MemoryMarshal.AsBytes(values.AsSpan());
        var bytes = new byte[HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), values.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), XxHash32.HashToUInt32(payload));
        payload.CopyTo(bytes.AsSpan(HeaderSize));
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
