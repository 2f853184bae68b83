using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pipeline.Training.Input;

/// <summary>Decodes 8-bit grayscale, non-interlaced PNGs of one size straight into a pixel buffer; one per thread.</summary>
/// <remarks>
/// The Records stage stores IDX datasets (Fashion-MNIST) as exactly such PNGs, and ImageSharp spends far longer
/// setting up than a 28×28 image takes to inflate. Anything else (another size, depth or colour type, interlace,
/// damage) is declined so that ImageSharp decodes it, or reports what is wrong. Chunk CRCs are not checked: the
/// record holding the PNG has passed its own CRC.
/// </remarks>
internal sealed class GrayPngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private byte[] _idat = [];
    private byte[] _rows = [];

    /// <summary>Fills <paramref name="pixels"/> (size × size, row-major) and returns true, or declines with false.</summary>
    public bool TryDecode(ReadOnlyMemory<byte> png, int size, Span<byte> pixels)
    {
        var bytes = png.Span;
        if (bytes.Length < Signature.Length + 25 || !bytes.StartsWith(Signature) || !MemoryMarshal.TryGetArray(png, out var array))
        {
            return false;
        }

        // IHDR comes first: width, height, depth 8, colour type 0 (gray), compression 0, filter 0, no interlace.
        var at = Signature.Length;
        if (BinaryPrimitives.ReadInt32BigEndian(bytes[at..]) != 13 || !bytes.Slice(at + 4, 4).SequenceEqual("IHDR"u8))
        {
            return false;
        }
        var header = bytes.Slice(at + 8, 13);
        if (BinaryPrimitives.ReadInt32BigEndian(header) != size || BinaryPrimitives.ReadInt32BigEndian(header[4..]) != size
            || header[8] != 8 || header[9] != 0 || header[10] != 0 || header[11] != 0 || header[12] != 0)
        {
            return false;
        }
        at += 12 + 13;

        // The image data may be split over several IDAT chunks; one is the rule, and needs no copy.
        int dataStart = -1, dataLength = 0, chunks = 0;
        while (true)
        {
            if (bytes.Length - at < 12)
            {
                return false;
            }
            var length = BinaryPrimitives.ReadInt32BigEndian(bytes[at..]);
            if (length < 0 || length > bytes.Length - at - 12)
            {
                return false;
            }
            var type = bytes.Slice(at + 4, 4);
            if (type.SequenceEqual("IEND"u8))
            {
                break;
            }
            if (type.SequenceEqual("IDAT"u8))
            {
                if (chunks++ == 0)
                {
                    dataStart = at + 8;
                }
                else
                {
                    if (chunks == 2)
                    {
                        Stage(bytes.Slice(dataStart, dataLength), 0);
                        dataStart = -1;
                    }
                    Stage(bytes.Slice(at + 8, length), dataLength);
                }
                dataLength += length;
            }
            else if (char.IsAsciiLetterUpper((char)type[0]))
            {
                return false; // a critical chunk this decoder does not know
            }
            at += 12 + length;
        }
        if (chunks == 0)
        {
            return false;
        }

        var stride = size + 1; // each row starts with its filter type
        var rawLength = stride * size;
        if (_rows.Length < rawLength)
        {
            _rows = new byte[rawLength];
        }
        try
        {
            using var compressed = dataStart >= 0
                ? new MemoryStream(array.Array!, array.Offset + dataStart, dataLength, writable: false)
                : new MemoryStream(_idat, 0, dataLength, writable: false);
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            if (zlib.ReadAtLeast(_rows.AsSpan(0, rawLength), rawLength, throwOnEndOfStream: false) < rawLength)
            {
                return false;
            }
        }
        catch (InvalidDataException)
        {
            return false;
        }
        return Unfilter(_rows.AsSpan(0, rawLength), size, pixels);
    }

    private void Stage(ReadOnlySpan<byte> chunk, int at)
    {
        if (_idat.Length < at + chunk.Length)
        {
            Array.Resize(ref _idat, Math.Max(at + chunk.Length, 2 * _idat.Length));
        }
        chunk.CopyTo(_idat.AsSpan(at));
    }

    /// <summary>Undoes PNG's per-row filters (one byte per pixel) into <paramref name="pixels"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // runs per pixel: not worth seconds in unoptimized code first
    private static bool Unfilter(ReadOnlySpan<byte> rows, int size, Span<byte> pixels)
    {
        for (var y = 0; y < size; y++)
        {
            var filter = rows[y * (size + 1)];
            var raw = rows.Slice(y * (size + 1) + 1, size);
            var row = pixels.Slice(y * size, size);
            var up = y == 0 ? default : pixels.Slice((y - 1) * size, size);
            switch (filter)
            {
                case 0:
                    raw.CopyTo(row);
                    break;
                case 1: // Sub
                    row[0] = raw[0];
                    for (var x = 1; x < size; x++)
                    {
                        row[x] = (byte)(raw[x] + row[x - 1]);
                    }
                    break;
                case 2: // Up
                    for (var x = 0; x < size; x++)
                    {
                        row[x] = (byte)(raw[x] + (y == 0 ? 0 : up[x]));
                    }
                    break;
                case 3: // Average
                    for (var x = 0; x < size; x++)
                    {
                        var left = x == 0 ? 0 : row[x - 1];
                        var above = y == 0 ? 0 : up[x];
                        row[x] = (byte)(raw[x] + ((left + above) >> 1));
                    }
                    break;
                case 4: // Paeth
                    for (var x = 0; x < size; x++)
                    {
                        var left = x == 0 ? 0 : row[x - 1];
                        var above = y == 0 ? 0 : up[x];
                        var corner = x == 0 || y == 0 ? 0 : up[x - 1];
                        row[x] = (byte)(raw[x] + Paeth(left, above, corner));
                    }
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    private static int Paeth(int left, int above, int corner)
    {
        var estimate = left + above - corner;
        var toLeft = Math.Abs(estimate - left);
        var toAbove = Math.Abs(estimate - above);
        var toCorner = Math.Abs(estimate - corner);
        return toLeft <= toAbove && toLeft <= toCorner ? left : toAbove <= toCorner ? above : corner;
    }
}
