using System.Buffers.Binary;
using System.IO.Hashing;

namespace Pipeline.Core.Tests.Images;

/// <summary>Sound images made unsound as a copy or an upload damages them; public so the serving tests damage images the same way.</summary>
public static class DamagedImages
{
    /// <summary>
    /// The PNG with its image data cut to its first <paramref name="keep"/> bytes in one well-formed IDAT chunk (right
    /// length and CRC) followed by IEND: every chunk reads cleanly, only the pixels run out. The header still
    /// promises the full size, as in a PNG claiming 5000×5000 with a 100-byte IDAT.
    /// </summary>
    public static byte[] PngWithImageDataCut(byte[] png, int keep)
    {
        var data = new MemoryStream();
        var chunks = new List<(string Type, byte[] Data)>();
        for (var at = 8; at + 12 <= png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            var content = png.AsSpan(at + 8, length);
            if (type == "IDAT")
            {
                data.Write(content);
            }
            else if (type != "IEND")
            {
                chunks.Add((type, content.ToArray()));
            }
            at += 12 + length;
        }
        Assert.True(data.Length > keep, $"the PNG's image data is {data.Length} bytes, not more than the {keep} to keep");
        chunks.Add(("IDAT", data.ToArray()[..keep]));
        chunks.Add(("IEND", []));

        var output = new MemoryStream();
        output.Write(png.AsSpan(0, 8));
        Span<byte> header = stackalloc byte[8];
        Span<byte> sum = stackalloc byte[4];
        foreach (var (type, content) in chunks)
        {
            BinaryPrimitives.WriteUInt32BigEndian(header, (uint)content.Length);
            System.Text.Encoding.ASCII.GetBytes(type, header[4..]);
            output.Write(header);
            output.Write(content);
            var crc = new Crc32();
            crc.Append(header[4..]);
            crc.Append(content);
            BinaryPrimitives.WriteUInt32BigEndian(sum, crc.GetCurrentHashAsUInt32());
            output.Write(sum);
        }
        return output.ToArray();
    }

    /// <summary>The first <paramref name="keep"/> bytes of a file, as a cut-off download leaves it.</summary>
    public static byte[] Truncated(byte[] file, int keep)
    {
        Assert.True(file.Length > keep, $"the file is {file.Length} bytes, not more than the {keep} to keep");
        return file[..keep];
    }
}
