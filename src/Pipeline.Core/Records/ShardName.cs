namespace Pipeline.Core.Records;

/// <summary>Shard file names as the reference converter writes them: train-00000-of-00004.tfrecord.</summary>
public static class ShardName
{
    public static string For(string split, int index, int count) => $"{split}-{index:D5}-of-{count:D5}.tfrecord";
}
