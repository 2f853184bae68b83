using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Pipeline.Core.Records;

/// <summary>CRC-32C (Castagnoli), the checksum TFRecord files carry, plus TensorFlow's masking of it.</summary>
public static class Crc32C
{
    // TensorFlow adds this after rotating so that a CRC stored next to the data it covers
    // does not look like a CRC of that data (checksumming data that embeds its own CRC is weak).
    private const uint MaskDelta = 0xa282ead8;

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Extends a CRC returned by <see cref="Compute"/> or <see cref="Append"/> with more data, as if the two were one buffer.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        // BitOperations.Crc32C works on the raw register, without the init/final inversion.
        var state = ~crc;

        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words)
        {
            // The instruction consumes the word's bytes low address first, so on a big-endian
            // machine the loaded value must be swapped to keep the byte order of the data.
            state = BitOperations.Crc32C(state, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        }

        foreach (var b in data[(words.Length * sizeof(ulong))..])
        {
            state = BitOperations.Crc32C(state, b);
        }

        return ~state;
    }

    /// <summary>The form TFRecord stores: rotated right by 15 bits plus a constant.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    /// <summary>Inverse of <see cref="Mask"/>.</summary>
    public static uint Unmask(uint masked)
    {
        var rotated = masked - MaskDelta;
        return (rotated >> 17) | (rotated << 15);
    }
}
