using Pipeline.Core.Engine;

namespace Pipeline.Core.Records;

/// <summary>A TFRecord file that cannot be trusted: a checksum does not match or the file ends inside a record.</summary>
public sealed class TfRecordCorruptException : PipelineException
{
    public TfRecordCorruptException(string path, long offset, string problem)
        : base($"record at byte {offset}: {problem}; the file is corrupt: rebuild it with --force", path)
    {
        Path = path;
        Offset = offset;
    }

    /// <summary>The file as it was named to the reader, for display.</summary>
    public string Path { get; }

    /// <summary>Byte offset of the start (length field) of the bad record.</summary>
    public long Offset { get; }
}
