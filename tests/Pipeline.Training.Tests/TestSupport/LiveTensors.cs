using TorchSharp;

namespace Pipeline.Training.Tests.TestSupport;

/// <summary>
/// Tensors created and not disposed, as TorchSharp counts them for the calling thread: exact, where process memory
/// would be noise. A tensor left to the garbage collector stays counted, since its finalizer runs on another thread.
/// </summary>
internal static class LiveTensors
{
    public static long Now => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>How many more tensors this thread holds after <paramref name="action"/> than before it.</summary>
    public static long LeftBy(Action action)
    {
        var before = Now;
        action();
        return Now - before;
    }
}
