using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>What training produced: the model, the whole history, and the step it resumed from (0 when fresh).</summary>
public sealed record TrainingResult(nn.Module<Tensor, Tensor> Model, IReadOnlyList<HistoryPoint> History, int ResumedFrom);
