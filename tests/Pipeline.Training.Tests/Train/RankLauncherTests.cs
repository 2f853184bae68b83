using Pipeline.Core.Datasets;
using Pipeline.Training.Train;

namespace Pipeline.Training.Tests.Train;

public sealed class RankLauncherTests
{
    [Fact]
    public void On_this_machine_mpirun_leaves_ranks_unbound_and_may_place_more_ranks_than_it_counts_cores()
    {
        var arguments = RankLauncher.MpirunArguments(new DistributedParameters { Processes = 2 });

        Assert.Equal(["-np", "2", "--bind-to", "none", "--oversubscribe"], arguments);
    }

    [Theory]
    [InlineData("--hostfile", "hosts")]
    [InlineData("-H", "a,b")]
    [InlineData("--nooversubscribe")]
    public void Given_hosts_or_a_slot_policy_mpirun_keeps_Open_MPI_s_slot_count(params string[] given)
    {
        var arguments = RankLauncher.MpirunArguments(new DistributedParameters { Processes = 4, LauncherArgs = given });

        Assert.DoesNotContain("--oversubscribe", arguments);
        Assert.Equal(["-np", "4", "--bind-to", "none", .. given], arguments);
    }

    [Fact]
    public void A_binding_given_replaces_the_unbound_default()
    {
        var arguments = RankLauncher.MpirunArguments(new DistributedParameters { Processes = 2, LauncherArgs = ["--bind-to", "core"] });

        Assert.Equal(["-np", "2", "--oversubscribe", "--bind-to", "core"], arguments);
    }
}
