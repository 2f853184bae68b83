using System.Buffers.Binary;

namespace Pipeline.Core.Images;

/// <summary>What a JPEG's markers say about it, read without decoding a pixel.</summary>
public readonly record struct JpegHeader(byte FrameMarker, int Width, int Height, int Components, int Precision, int? AdobeTransform, bool HasEndMarker)
{
    /// <summary>
    /// A sequential 8-bit three-component JPEG that is not RGB-coded, with its end marker: exactly what TensorFlow's
    /// decode_jpeg and every browser read as RGB, so its bytes can go into a record unchanged.
    /// </summary>
    public bool IsPassThroughRgb =>
        FrameMarker is 0xC0 or 0xC1 && Precision == 8 && Components == 3 && AdobeTransform is null or 1 && HasEndMarker && Width > 0 && Height > 0;

    public bool IsProgressive => FrameMarker is 0xC2 or 0xC6 or 0xCA or 0xCE;

    /// <summary>Reads markers up to the first scan; null when the bytes are not a JPEG or the header is cut short.</summary>
    public static JpegHeader? TryRead(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8)
        {
            return null;
        }

        int? adobeTransform = null;
        var position = 2;
        while (position + 4 <= bytes.Length)
        {
            if (bytes[position] != 0xFF)
            {
                return null;
            }
            var marker = bytes[position + 1];
            if (marker == 0xFF)
            {
                position++; // fill byte
                continue;
            }
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                position += 2; // markers without a length
                continue;
            }
            var length = BinaryPrimitives.ReadUInt16BigEndian(bytes[(position + 2)..]);
            if (length < 2 || position + 2 + length > bytes.Length)
            {
                return null;
            }
            var segment = bytes.Slice(position + 4, length - 2);
            if (marker == 0xEE && segment.Length >= 12 && segment[..5].SequenceEqual("Adobe"u8))
            {
                adobeTransform = segment[11];
            }
            if (IsFrameMarker(marker))
            {
                if (segment.Length < 6)
                {
                    return null;
                }
                return new JpegHeader(
                    marker,
                    Width: BinaryPrimitives.ReadUInt16BigEndian(segment[3..]),
                    Height: BinaryPrimitives.ReadUInt16BigEndian(segment[1..]),
                    Components: segment[5],
                    Precision: segment[0],
                    adobeTransform,
                    HasEndMarker: HasEndMarkerAfter(bytes, position));
            }
            if (marker == 0xDA)
            {
                return null; // a scan before any frame header
            }
            position += 2 + length;
        }
        return null;
    }

    private static bool IsFrameMarker(byte marker) =>
        marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;

    /// <summary>
    /// A truncated download or copy loses the end-of-image marker. Entropy-coded data never holds FF D9, so any
    /// FF D9 after the frame header is the end marker, even when a camera appended a trailer after it.
    /// </summary>
    private static bool HasEndMarkerAfter(ReadOnlySpan<byte> bytes, int frame) =>
        bytes.LastIndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) > frame;
}
