namespace Pipeline.Training.Evaluation;

/// <summary>One class's scores; a ratio whose denominator is zero is 0, never NaN.</summary>
/// <param name="Precision">Correct predictions of the class over all predictions of it.</param>
/// <param name="Recall">Correct predictions of the class over its examples.</param>
/// <param name="F1">Harmonic mean of precision and recall.</param>
/// <param name="Support">Examples whose true class this is.</param>
/// <param name="Predicted">Examples predicted as this class.</param>
public sealed record ClassMetrics(double Precision, double Recall, double F1, long Support, long Predicted);
