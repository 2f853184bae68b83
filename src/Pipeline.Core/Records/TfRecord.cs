namespace Pipeline.Core.Records;

/// <summary>One record read from a TFRecord file: where its frame starts and its data.</summary>
/// <param name="Offset">Byte offset of the record's length field in the file, as used in error messages.</param>
/// <param name="Data">
/// The record's bytes. When it comes from <see cref="TfRecordReader.TryRead"/> it points into the reader's
/// buffer and is valid only until the next read; copy it (<c>Data.ToArray()</c>) to keep it.
/// </param>
public readonly record struct TfRecord(long Offset, ReadOnlyMemory<byte> Data);
