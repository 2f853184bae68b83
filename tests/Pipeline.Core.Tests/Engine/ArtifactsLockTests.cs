using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Engine;

public sealed class ArtifactsLockTests
{
    [Fact]
    public void Second_holder_times_out_with_a_message_naming_the_first()
    {
        using var dir = new TempDirectory();
        var messages = new List<string>();
        using var first = ArtifactsLock.Acquire(dir.Path, TimeSpan.Zero, messages.Add);

        var error = Assert.Throws<PipelineException>(() => ArtifactsLock.Acquire(dir.Path, TimeSpan.FromMilliseconds(300), messages.Add));

        Assert.Contains($"pid {Environment.ProcessId}", error.Message);
        Assert.Contains("another build is using this artifacts folder", error.Message);
        Assert.Single(messages, m => m.StartsWith("Waiting for", StringComparison.Ordinal));
    }

    [Fact]
    public void Lock_is_free_again_after_dispose()
    {
        using var dir = new TempDirectory();
        ArtifactsLock.Acquire(dir.Path, TimeSpan.Zero, _ => { }).Dispose();

        using var again = ArtifactsLock.Acquire(dir.Path, TimeSpan.Zero, _ => { });

        Assert.NotNull(again);
    }
}
