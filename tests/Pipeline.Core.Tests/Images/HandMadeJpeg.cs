using System.Buffers.Binary;
using System.Numerics;

namespace Pipeline.Core.Tests.Images;

/// <summary>Builds tiny single-colour JPEGs byte by byte, for the kinds ImageSharp 2.1 cannot write: CMYK, YCCK, progressive.</summary>
/// <remarks>
/// Every 8×8 block holds only a DC coefficient. With a quantisation step of 8 that coefficient is the sample value − 128,
/// so each component decodes to exactly the value asked for. The DC Huffman table gives categories 0–8 four-bit codes
/// equal to the category; the AC table holds only end-of-block, coded as a single 0 bit.
/// </remarks>
internal static class HandMadeJpeg
{
    public const byte Baseline = 0xC0;
    public const byte Progressive = 0xC2;

    /// <param name="frameMarker"><see cref="Baseline"/> or <see cref="Progressive"/> (a progressive file has one DC scan only).</param>
    /// <param name="samples">One value per component, as stored (for Adobe CMYK: inverted, 255 = no ink).</param>
    public static byte[] Flat(byte frameMarker, byte[] samples, int width, int height, int? adobeTransform = null)
    {
        var jpeg = new MemoryStream();
        jpeg.Write([0xFF, 0xD8]);
        if (adobeTransform is { } transform)
        {
            Segment(jpeg, 0xEE, [.. "Adobe"u8, 0, 100, 0, 0, 0, 0, (byte)transform]);
        }
        Segment(jpeg, 0xDB, [0x00, .. Enumerable.Repeat((byte)8, 64)]);
        Segment(jpeg, frameMarker, FrameHeader(samples.Length, width, height));
        Segment(jpeg, 0xC4, [0x00, 0, 0, 0, 9, .. new byte[12], 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        Segment(jpeg, 0xC4, [0x10, 1, .. new byte[15], 0x00]);
        var progressive = frameMarker == Progressive;
        Segment(jpeg, 0xDA, ScanHeader(samples.Length, progressive));
        jpeg.Write(EntropyCodedData(samples, width, height, progressive));
        jpeg.Write([0xFF, 0xD9]);
        return jpeg.ToArray();
    }

    /// <summary>A frame (SOF) segment with its marker and length, for header-only tests.</summary>
    public static byte[] FrameSegment(byte frameMarker, int components, int width, int height, int precision = 8)
    {
        var segment = new MemoryStream();
        Segment(segment, frameMarker, FrameHeader(components, width, height, precision));
        return segment.ToArray();
    }

    /// <summary>An APP14 "Adobe" segment with its marker and length.</summary>
    public static byte[] AdobeSegment(int transform)
    {
        var segment = new MemoryStream();
        Segment(segment, 0xEE, [.. "Adobe"u8, 0, 100, 0, 0, 0, 0, (byte)transform]);
        return segment.ToArray();
    }

    private static byte[] FrameHeader(int components, int width, int height, int precision = 8)
    {
        var header = new List<byte> { (byte)precision, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, (byte)components };
        for (var c = 1; c <= components; c++)
        {
            header.AddRange([(byte)c, 0x11, 0]); // id, 1×1 sampling, quantisation table 0
        }
        return [.. header];
    }

    private static byte[] ScanHeader(int components, bool progressive)
    {
        var header = new List<byte> { (byte)components };
        for (var c = 1; c <= components; c++)
        {
            header.AddRange([(byte)c, 0x00]); // DC and AC table 0
        }
        header.AddRange(progressive ? [0, 0, 0] : [0, 63, 0]); // spectral selection, successive approximation
        return [.. header];
    }

    private static byte[] EntropyCodedData(byte[] samples, int width, int height, bool progressive)
    {
        var bits = new BitWriter();
        var blocks = ((width + 7) / 8) * ((height + 7) / 8);
        for (var block = 0; block < blocks; block++)
        {
            foreach (var sample in samples)
            {
                var difference = block == 0 ? sample - 128 : 0; // DC is coded as the change from the previous block
                var category = difference == 0 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)Math.Abs(difference));
                bits.Write(category, 4);
                bits.Write(difference >= 0 ? difference : difference + (1 << category) - 1, category);
                if (!progressive)
                {
                    bits.Write(0, 1); // end of block
                }
            }
        }
        return bits.Finish();
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = [];
        private int _current;
        private int _count;

        public void Write(int value, int length)
        {
            for (var i = length - 1; i >= 0; i--)
            {
                _current = (_current << 1) | ((value >> i) & 1);
                if (++_count == 8)
                {
                    Flush();
                }
            }
        }

        public byte[] Finish()
        {
            while (_count != 0)
            {
                Write(1, 1); // pad the last byte with 1 bits
            }
            return [.. _bytes];
        }

        private void Flush()
        {
            _bytes.Add((byte)_current);
            if (_current == 0xFF)
            {
                _bytes.Add(0x00); // byte stuffing
            }
            (_current, _count) = (0, 0);
        }
    }

    private static void Segment(Stream target, byte marker, byte[] payload)
    {
        Span<byte> header = [0xFF, marker, 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(payload.Length + 2));
        target.Write(header);
        target.Write(payload);
    }
}
