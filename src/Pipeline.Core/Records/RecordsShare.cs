using Pipeline.Core.Engine;

namespace Pipeline.Core.Records;

/// <summary>
/// One worker's share of the Records stage when it is spread over machines: worker <see cref="Index"/> of
/// <see cref="Count"/> writes the shards whose number (counted across splits, in split order) modulo Count is Index.
/// </summary>
public sealed record RecordsShare(int Index, int Count)
{
    public const string Folder = "parts";

    /// <exception cref="PipelineException">Not a worker of the given count.</exception>
    public static RecordsShare? From(int? index, int? count)
    {
        if (index is null && count is null)
        {
            return null;
        }
        if (index is null || count is null)
        {
            throw new PipelineException("--shard-index and --shard-count go together: give both, or neither");
        }
        if (count < 1 || index < 0 || index >= count)
        {
            throw new PipelineException($"--shard-index {index} --shard-count {count}: the index counts from 0 to {Math.Max(count.Value, 1) - 1}");
        }
        return new RecordsShare(index.Value, count.Value);
    }

    /// <summary>A worker's share is of the Records stage only; any other target is built where the shares are combined.</summary>
    /// <exception cref="PipelineException">A share is given with another target.</exception>
    public static void RequireRecordsTarget(RecordsShare? part, string target)
    {
        if (part is not null && !target.Equals("records", StringComparison.OrdinalIgnoreCase))
        {
            throw new PipelineException(
                $"--shard-index and --shard-count split the Records stage among workers: use them with the Records target, not {target}; build {target} where the shares are combined");
        }
    }

    public bool Owns(int globalShard) => globalShard % Count == Index;

    /// <summary>records/parts/part-00001-of-00004.json: what this worker wrote, for the run that combines the shares.</summary>
    public string ManifestName => $"part-{Index:D5}-of-{Count:D5}.json";
}
