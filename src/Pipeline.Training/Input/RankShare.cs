namespace Pipeline.Training.Input;

/// <summary>
/// One process's rows of every batch in data-parallel training: rank r of n takes rows [count·r/n, count·(r+1)/n), so
/// the n shares of a batch are the whole batch, in order, and each rank decodes only its own.
/// </summary>
public readonly record struct RankShare
{
    public RankShare(int rank, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, ranks);
        Rank = rank;
        Ranks = ranks;
    }

    /// <summary>The whole of every batch: training in one process.</summary>
    public static RankShare Whole => new(0, 1);

    public int Rank { get; }

    public int Ranks { get; }

    /// <summary>This rank's first row and the row after its last, of a batch of <paramref name="count"/>.</summary>
    public (int Start, int End) Of(int count) => ((int)((long)count * Rank / Ranks), (int)((long)count * (Rank + 1) / Ranks));
}
