namespace Pipeline.Training.Train;

/// <summary>
/// One row of the train-and-evaluate loop's history (train/history.json), written at every evaluation. Only what
/// the computation determines: throughput, which depends on the machine's load, goes to the log and TensorBoard,
/// so that identical trainings give identical history (and Evaluate, Export and a release stay byte-identical).
/// </summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="TrainLoss">Mean training loss since the previous row.</param>
/// <param name="TrainAccuracy">Top-1 accuracy on the training batches since the previous row.</param>
/// <param name="EvalLoss">Mean loss over the whole held-out split.</param>
/// <param name="EvalAccuracy">Top-1 accuracy over the whole held-out split.</param>
/// <param name="LearningRate">The learning rate at this step.</param>
public sealed record HistoryPoint(
    int Step,
    double TrainLoss,
    double TrainAccuracy,
    double EvalLoss,
    double EvalAccuracy,
    double LearningRate);
