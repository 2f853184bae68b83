namespace Pipeline.Training.Input;

/// <summary>One record's bytes, copied out of its shard, and where it came from for error messages.</summary>
/// <param name="Shard">Index into the pipeline's sorted shard list.</param>
/// <param name="Offset">Byte offset of the record's frame in its shard.</param>
internal readonly record struct RawRecord(byte[] Data, int Shard, long Offset);
