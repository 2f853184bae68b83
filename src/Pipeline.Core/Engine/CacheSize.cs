using System.Globalization;

namespace Pipeline.Core.Engine;

/// <summary>How much a run-cache holds.</summary>
public sealed record CacheSize(IReadOnlyDictionary<string, int> EntriesPerStage, int Objects, long Bytes)
{
    public override string ToString() =>
        $"{EntriesPerStage.Values.Sum()} entries ({string.Join(", ", EntriesPerStage.Select(p => $"{p.Key} {p.Value}"))}), "
        + $"{Objects} objects, {(Bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture)} MB";
}
