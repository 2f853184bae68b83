using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using static Pipeline.Core.Tests.TestSupport.IdxBytes;

namespace Pipeline.Core.Tests.Datasets;

public sealed class IdxFileTests : IDisposable
{
    private static readonly byte[] ImageData = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 11)).ToArray();

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Images_file_reads_count_rows_columns_and_data()
    {
        var path = _dir.WriteBytes("x-images-idx3-ubyte", Idx([2, 3, 4], ImageData));

        var file = IdxFile.Read(path);

        Assert.Equal([2, 3, 4], file.Dimensions);
        Assert.Equal(2, file.Count);
        Assert.Equal(ImageData, file.Data);
    }

    [Fact]
    public void Labels_file_reads_count_and_data()
    {
        var path = _dir.WriteBytes("x-labels-idx1-ubyte", Idx([5], [3, 1, 4, 1, 5]));

        var file = IdxFile.Read(path);

        Assert.Equal([5], file.Dimensions);
        Assert.Equal(5, file.Count);
        Assert.Equal(new byte[] { 3, 1, 4, 1, 5 }, file.Data);
    }

    [Fact]
    public void Gzipped_file_reads_the_same_as_the_plain_one()
    {
        var path = _dir.WriteBytes("x-images-idx3-ubyte.gz", Gzip(Idx([2, 3, 4], ImageData)));

        var file = IdxFile.Read(path);

        Assert.Equal([2, 3, 4], file.Dimensions);
        Assert.Equal(ImageData, file.Data);
    }

    [Fact]
    public void Gzip_is_detected_by_its_magic_bytes_not_the_file_name()
    {
        var gzippedWithoutSuffix = _dir.WriteBytes("gzipped-idx3-ubyte", Gzip(Idx([2, 3, 4], ImageData)));
        var plainWithSuffix = _dir.WriteBytes("plain-idx3-ubyte.gz", Idx([2, 3, 4], ImageData));

        Assert.Equal(ImageData, IdxFile.Read(gzippedWithoutSuffix).Data);
        Assert.Equal(ImageData, IdxFile.Read(plainWithSuffix).Data);
    }

    [Fact]
    public void Empty_images_file_reads_as_zero_images()
    {
        var path = _dir.WriteBytes("empty-idx3-ubyte", Idx([0, 28, 28], []));

        var file = IdxFile.Read(path);

        Assert.Equal(0, file.Count);
        Assert.Empty(file.Data);
    }

    [Fact]
    public void Truncated_data_throws_naming_the_file_and_saying_truncated()
    {
        var path = _dir.WriteBytes("x-images-idx3-ubyte", Idx([2, 3, 4], ImageData)[..^5]);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.StartsWith($"{path}: IDX data is 19 bytes but the header (2 × 3 × 4) promises 24", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Truncated_gzip_throws_naming_the_file_and_saying_truncated()
    {
        var gzip = Gzip(Idx([2, 3, 4], ImageData));
        var path = _dir.WriteBytes("x-images-idx3-ubyte.gz", gzip[..(gzip.Length / 2)]);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Data_beyond_what_the_header_promises_throws()
    {
        var path = _dir.WriteBytes("x-images-idx3-ubyte", [.. Idx([2, 3, 4], ImageData), 0]);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("IDX data is 25 bytes but the header (2 × 3 × 4) promises 24", error.Message);
    }

    [Fact]
    public void Header_cut_inside_the_dimensions_throws_saying_the_header_is_truncated()
    {
        var path = _dir.WriteBytes("x-images-idx3-ubyte", Idx([2, 3, 4], ImageData)[..10]);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("IDX header is truncated (10 bytes, rank 3)", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x1F, 0x00, 0x08, 0x01, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0x00, 0x01, 0x08, 0x01, 0, 0, 0, 0 })]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4 })]
    [InlineData(new byte[] { 0x00, 0x00, 0x08 })]
    public void Wrong_magic_throws_not_an_IDX_file(byte[] bytes)
    {
        var path = _dir.WriteBytes("x-labels-idx1-ubyte", bytes);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("not an IDX file", error.Message);
    }

    [Theory]
    [InlineData(0x09, "0x09")] // signed byte
    [InlineData(0x0B, "0x0b")] // short
    [InlineData(0x0D, "0x0d")] // float
    public void Element_type_other_than_unsigned_byte_throws_naming_the_type(byte type, string shown)
    {
        var path = _dir.WriteBytes("x-labels-idx1-ubyte", Idx([2], [0, 1], type));

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains($"IDX element type {shown} is not supported", error.Message);
    }

    [Fact]
    public void Rank_zero_throws()
    {
        var path = _dir.WriteBytes("x-idx0-ubyte", [0, 0, 8, 0]);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("rank 0", error.Message);
    }

    [Fact]
    public void Negative_dimension_throws_naming_it()
    {
        var path = _dir.WriteBytes("x-labels-idx1-ubyte", Idx([-1], []));

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("IDX dimension 0 is negative (-1)", error.Message);
    }

    [Fact]
    public void Corrupt_gzip_throws_asking_to_fetch_again()
    {
        var gzip = Gzip(Idx([2, 3, 4], ImageData));
        gzip[10] = 0xFF; // first deflate block header: final block of reserved type 3
        var path = _dir.WriteBytes("x-images-idx3-ubyte.gz", gzip);

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("gzip data is corrupt", error.Message);
        Assert.Contains("fetch the file again", error.Message);
    }

    [Fact]
    public void Missing_file_throws_naming_it()
    {
        var path = Path.Combine(_dir.Path, "missing-idx1-ubyte");

        var error = Assert.Throws<PipelineException>(() => IdxFile.Read(path));

        Assert.Equal(path, error.Location);
        Assert.Contains("IDX file not found", error.Message);
    }

    [Fact]
    public void File_in_a_missing_folder_throws_PipelineException_naming_it()
    {
        var path = Path.Combine(_dir.Path, "not-downloaded-yet", "train-labels-idx1-ubyte.gz");

        var error = Record.Exception(() => IdxFile.Read(path));

        var pipeline = Assert.IsType<PipelineException>(error);
        Assert.Equal(path, pipeline.Location);
        Assert.Contains("IDX file not found", pipeline.Message);
    }

    /// <summary>An IDX file: two zero bytes, the element type, the rank, each dimension big-endian, then the data.</summary>
}
