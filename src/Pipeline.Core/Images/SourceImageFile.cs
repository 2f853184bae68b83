using System.Buffers;
using Pipeline.Core.Datasets;

namespace Pipeline.Core.Images;

/// <summary>
/// Reads a source image file, local or fetched through the download cache, as untrusted input: one place for the
/// size cap and for turning a missing, unreadable or refused file into a <see cref="BadImageException"/> naming it.
/// </summary>
public static class SourceImageFile
{
    /// <summary>No source image file is this large; refusing it early keeps a stray video or disk image out of memory.</summary>
    public const long MaxBytes = 256L * 1024 * 1024;

    /// <summary>Reads the file into a buffer rented from <paramref name="pool"/> (the caller returns it) and gives its length.</summary>
    /// <param name="fetch">Maps a remote URL and its origin to a local file (the download cache).</param>
    /// <exception cref="BadImageException">Not found, refused by its server, too large or unreadable.</exception>
    public static int Read(FileImageRef file, string origin, Func<string, string, string> fetch, ArrayPool<byte> pool, out byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(fetch);
        ArgumentNullException.ThrowIfNull(pool);
        string path;
        try
        {
            path = file.IsRemote ? fetch(file.Location, origin) : file.Location;
        }
        catch (DownloadRefusedException e)
        {
            // The server says the image is not there: as bad an image as a missing local file.
            throw new BadImageException(e.Problem, origin, e);
        }
        try
        {
            // ReadWrite: on Unix any narrower sharing costs an advisory lock (flock) per file, and nothing here relies on one.
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = RandomAccess.GetLength(handle);
            if (length > MaxBytes)
            {
                throw new BadImageException($"image {file.Location} is {length:N0} bytes, more than any image we accept ({MaxBytes:N0})", origin);
            }
            buffer = pool.Rent((int)length);
            var total = 0;
            while (total < length)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(total, (int)length - total), total);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
            return total;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BadImageException($"image {file.Location} not found", origin, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadImageException($"image {file.Location} cannot be read: {e.Message}", origin, e);
        }
    }

    /// <summary>The whole file as an array of its own length.</summary>
    /// <exception cref="BadImageException">Not found, refused by its server, too large or unreadable.</exception>
    public static byte[] ReadAll(FileImageRef file, string origin, Func<string, string, string> fetch)
    {
        byte[]? buffer = null;
        try
        {
            var length = Read(file, origin, fetch, ArrayPool<byte>.Shared, out buffer);
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
