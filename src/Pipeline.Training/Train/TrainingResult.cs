using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>
/// What training produced: the model, the whole history, the step it resumed from (0 when fresh), and the time this
/// run spent in its steps (evaluations left out) over how many.
/// </summary>
public sealed record TrainingResult(nn.Module<Tensor, Tensor> Model, IReadOnlyList<HistoryPoint> History, int ResumedFrom, TimeSpan Stepping = default, int Steps = 0);
