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

    /// <summary>
    /// Data-parallel training's equivalence (issue 16): two ranks, each taking half of every global batch and averaging
    /// gradients with one allreduce, end with the weights one process taking whole batches ends with (within float
    /// rounding: the sums run in another order), and two runs of two ranks end bit for bit the same.
    /// </summary>
    [MpiFact]
    public async Task Two_ranks_averaging_gradients_end_with_one_process_weights_and_the_same_bits_every_run()
    {
        using var dir = new TempDirectory();
        var pipeline = Path.Combine(AppContext.BaseDirectory, "pipeline");
        async Task<float[]> Train(int ranks, string file)
        {
            var (exitCode, output, error) = await MpiRun.RunAsync(ranks, pipeline, ["mpi", "equivalence", "--steps", "30", "--batch", "32", "--out", dir.Combine(file)], TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, $"exit {exitCode}: {output} {error}");
            Assert.Contains($"{ranks} rank(s), 30 steps of a global batch of 32 ({32 / ranks} per rank)", output, StringComparison.Ordinal);
            var bytes = File.ReadAllBytes(dir.Combine(file));
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        }

        var one = await Train(1, "one.bin");
        var two = await Train(2, "two.bin");
        var again = await Train(2, "two-again.bin");

        Assert.Equal(2_410, one.Length); // 64·32 + 32 + 32·10 + 10
        var largest = one.Max(Math.Abs);
        var difference = one.Zip(two, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest > 0.05, $"the weights moved: largest {largest}");
        Assert.True(difference <= 1e-6, $"2 ranks differ from 1 process by up to {difference} (weights up to {largest})");
        Assert.Equal(two, again);
    }

    [MpiFact]
    public async Task A_rank_that_fails_outside_mpi_ends_the_whole_job_saying_why_instead_of_leaving_the_others_waiting()
    {
        using var dir = new TempDirectory();

        // Rank 0 cannot write its weights; rank 1 would wait in the last barrier for ever without MPI_Abort.
        var (exitCode, output, error) = await MpiRun.RunAsync(2, Path.Combine(AppContext.BaseDirectory, "pipeline"),
            ["mpi", "equivalence", "--steps", "2", "--out", Path.Combine(dir.WriteText("a-file", "not a folder"), "weights.bin")], TimeSpan.FromMinutes(2));

        // Ending at all is the point (a hang runs past the timeout and throws). The rank says why itself; Open MPI's own
        // "MPI_ABORT was invoked" banner is not asserted, as mpirun sometimes exits before it is printed.
        Assert.True(exitCode != 0, $"exit 0: {output} {error}");
        Assert.Matches("rank 0: error: .*a-file", output + error);
    }
}
