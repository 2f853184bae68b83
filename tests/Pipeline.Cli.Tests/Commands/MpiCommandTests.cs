using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Cli.Tests.Commands;

/// <summary>`pipeline mpi check` as the two ranks of a real Open MPI job: the P/Invoke layer's allreduce and broadcast across processes.</summary>
public sealed class MpiCommandTests
{
    [MpiFact]
    public async Task Two_ranks_find_each_other_and_allreduce_and_broadcast_give_the_right_values()
    {
        var (exitCode, output, error) = await MpiRun.RunAsync(2, Path.Combine(AppContext.BaseDirectory, "pipeline"), ["mpi", "check", "--floats", "100000"], TimeSpan.FromMinutes(2));

        Assert.True(exitCode == 0, $"exit {exitCode}: {output} {error}");
        var lines = output.Split('\n').Where(l => l.Contains("rank ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        foreach (var rank in new[] { "rank 0 of 2", "rank 1 of 2" })
        {
            var line = Assert.Single(lines, l => l.Contains(rank, StringComparison.Ordinal));
            Assert.Contains("allreduce of 100,000 floats correct, broadcast correct", line, StringComparison.Ordinal);
        }
    }
}
