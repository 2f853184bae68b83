namespace Pipeline.Core.Engine;

/// <summary>
/// A stage that, when stale, can say how much of its work is left, beyond why it is stale: the Bottlenecks stage
/// counts the images that have no cached bottleneck. Asked only about stale stages, so it may read its inputs.
/// </summary>
public interface IDescribesPendingWork
{
    /// <summary>One phrase ("12 of 1,700 images have no cached bottleneck"), or null when there is nothing to add.</summary>
    string? PendingWork();
}
