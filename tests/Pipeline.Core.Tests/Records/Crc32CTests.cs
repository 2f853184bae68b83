using System.Text;
using Pipeline.Core.Records;

namespace Pipeline.Core.Tests.Records;

public sealed class Crc32CTests
{
    [Fact]
    public void Check_value_of_123456789_is_E3069283()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }

    [Theory]
    [InlineData("zeros", 0x8A9136AAu)]
    [InlineData("ones", 0x62A8AB43u)]
    [InlineData("ascending", 0x46DD794Eu)]
    [InlineData("descending", 0x113FDB5Cu)]
    public void Rfc3720_test_vectors_match(string pattern, uint expected)
    {
        var data = pattern switch
        {
            "zeros" => new byte[32],
            "ones" => Enumerable.Repeat((byte)0xFF, 32).ToArray(),
            "ascending" => Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(),
            "descending" => Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(pattern)),
        };

        Assert.Equal(expected, Crc32C.Compute(data));
    }

    [Fact]
    public void Crc_of_nothing_is_zero()
    {
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Matches_a_bitwise_reference_for_every_length_and_alignment()
    {
        // Lengths and start offsets around multiples of 8 exercise both the word loop and the byte tail.
        var data = new byte[80];
        new Random(20240601).NextBytes(data);
        for (var start = 0; start < 8; start++)
        {
            for (var length = 0; start + length <= data.Length; length++)
            {
                var slice = data.AsSpan(start, length);
                Assert.Equal(BitwiseCrc32C(slice), Crc32C.Compute(slice));
            }
        }
    }

    [Fact]
    public void Append_over_split_input_equals_compute_over_whole()
    {
        var data = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog, twice over.");
        var whole = Crc32C.Compute(data);
        for (var split = 0; split <= data.Length; split++)
        {
            var first = Crc32C.Compute(data.AsSpan(0, split));
            Assert.Equal(whole, Crc32C.Append(first, data.AsSpan(split)));
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(0xE3069283u)]
    [InlineData(0xA282EAD8u)]
    [InlineData(0xFFFFFFFFu)]
    public void Unmask_undoes_mask(uint crc)
    {
        Assert.Equal(crc, Crc32C.Unmask(Crc32C.Mask(crc)));
        Assert.Equal(crc, Crc32C.Unmask(Crc32C.Unmask(Crc32C.Mask(Crc32C.Mask(crc)))));
    }

    [Fact]
    public void Mask_changes_the_crc()
    {
        var crc = Crc32C.Compute("foo"u8);
        Assert.NotEqual(crc, Crc32C.Mask(crc));
        Assert.NotEqual(crc, Crc32C.Mask(Crc32C.Mask(crc)));
    }

    [Fact]
    public void Mask_rotates_right_by_15_and_adds_TensorFlow_delta()
    {
        // crc32c("hello") = 0x9A71BB4C; rotated right by 15 = 0x769934E3; + 0xA282EAD8 = 0x191C1FBB (mod 2^32).
        Assert.Equal(0x9A71BB4Cu, Crc32C.Compute("hello"u8));
        Assert.Equal(0x191C1FBBu, Crc32C.Mask(0x9A71BB4Cu));
    }

    /// <summary>Textbook reflected CRC-32C, one bit at a time: an oracle independent of the hardware instruction.</summary>
    private static uint BitwiseCrc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }
        return ~crc;
    }
}
