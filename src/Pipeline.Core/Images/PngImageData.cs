using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.Core.Images;

/// <summary>
/// Whether a PNG holds all the image data its header promises, found by walking its chunks and inflating its IDAT
/// data without decoding a pixel. ImageSharp 2.1 decodes a PNG whose data stops early without complaint, leaving the
/// missing rows black, so a cut-off file or a header claiming 5000×5000 over a 100-byte IDAT would pass as an image.
/// </summary>
internal static class PngImageData
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Why the PNG is cut short or its image data is corrupt; null when it is complete or is not a PNG.</summary>
    /// <remarks>Inflates up to the size the header promises: check the header's width and height against a limit first.</remarks>
    public static string? Problem(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.StartsWith(Signature))
        {
            return null;
        }
        long expected = -1;
        using var data = new MemoryStream();
        var position = Signature.Length;
        while (true)
        {
            if (position + 8 > bytes.Length)
            {
                return "truncated: the PNG ends before its IEND chunk";
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(bytes[position..]);
            var type = bytes.Slice(position + 4, 4);
            if (length > int.MaxValue || position + 12L + length > bytes.Length)
            {
                return $"truncated: the PNG ends inside its {System.Text.Encoding.ASCII.GetString(type)} chunk at byte {position:N0}";
            }
            var content = bytes.Slice(position + 8, (int)length);
            if (expected < 0)
            {
                // The header this check sizes the data by must be the one the caller's size check read: the first
                // chunk, valid, and the only IHDR (ImageSharp's Identify would take a later one).
                if (!type.SequenceEqual("IHDR"u8) || content.Length < 13)
                {
                    return "corrupt: the PNG does not begin with its IHDR header chunk";
                }
                expected = ImageDataLength(content);
                if (expected < 0)
                {
                    return "corrupt: the PNG's IHDR gives no valid size, bit depth and colour type";
                }
            }
            else if (type.SequenceEqual("IHDR"u8))
            {
                return "corrupt: the PNG has more than one IHDR header chunk";
            }
            else if (type.SequenceEqual("IDAT"u8))
            {
                data.Write(content);
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                break;
            }
            position += 12 + (int)length;
        }
        data.Position = 0;
        long inflated = 0;
        var scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var zlib = new ZLibStream(data, CompressionMode.Decompress, leaveOpen: true);
            int read;
            while (inflated < expected && (read = zlib.Read(scratch, 0, (int)Math.Min(scratch.Length, expected - inflated))) > 0)
            {
                inflated += read;
            }
        }
        catch (InvalidDataException e)
        {
            return $"corrupt: the PNG's image data cannot be inflated ({e.Message})";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
        return inflated < expected
            ? $"truncated: the PNG's image data holds {inflated:N0} of the {expected:N0} bytes its header promises"
            : null;
    }

    /// <summary>The filtered scanline bytes an IHDR promises (Adam7 passes included), or −1 for a header we do not know.</summary>
    private static long ImageDataLength(ReadOnlySpan<byte> header)
    {
        long width = BinaryPrimitives.ReadUInt32BigEndian(header);
        long height = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        int bitDepth = header[8];
        var samples = header[9] switch
        {
            0 or 3 => 1, // grayscale, palette
            2 => 3, // RGB
            4 => 2, // grayscale and alpha
            6 => 4, // RGBA
            _ => 0,
        };
        if (samples == 0 || bitDepth is not (1 or 2 or 4 or 8 or 16) || width == 0 || height == 0)
        {
            return -1;
        }
        long Pass(long w, long h) => w == 0 || h == 0 ? 0 : h * (1 + (w * samples * bitDepth + 7) / 8);
        if (header[12] == 0)
        {
            return Pass(width, height);
        }
        // Adam7: each pass's first column and row, and its steps across and down.
        ReadOnlySpan<int> passes = [0, 0, 8, 8, 4, 0, 8, 8, 0, 4, 4, 8, 2, 0, 4, 4, 0, 2, 2, 4, 1, 0, 2, 2, 0, 1, 1, 2];
        long total = 0;
        for (var p = 0; p < passes.Length; p += 4)
        {
            total += Pass((width - passes[p] + passes[p + 2] - 1) / passes[p + 2], (height - passes[p + 1] + passes[p + 3] - 1) / passes[p + 3]);
        }
        return total;
    }
}
