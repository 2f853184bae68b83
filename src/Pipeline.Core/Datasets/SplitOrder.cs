namespace Pipeline.Core.Datasets;

/// <summary>The order splits are listed and built in: train, validation, test, then any others by name.</summary>
public static class SplitOrder
{
    private static readonly string[] Known = ["train", "validation", "test"];

    public static IReadOnlyList<string> Sort(IEnumerable<string> splits) =>
        splits.OrderBy(s => Array.IndexOf(Known, s) is var i and >= 0 ? i : Known.Length)
            .ThenBy(s => s, StringComparer.Ordinal)
            .ToArray();
}
