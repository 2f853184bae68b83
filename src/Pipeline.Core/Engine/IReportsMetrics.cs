using System.Text.Json.Nodes;

namespace Pipeline.Core.Engine;

/// <summary>
/// A stage whose outputs hold figures worth comparing between runs (Evaluate's accuracy, Train's last evaluation):
/// what the experiments log records of each run. Asked after the stage is built, so it reads its own outputs.
/// </summary>
public interface IReportsMetrics
{
    /// <summary>Named numbers ("accuracy": 0.9231) and labels ("split": "test"); null when the outputs are not there.</summary>
    JsonObject? Metrics();
}
