namespace Pipeline.Training.Input;

/// <summary>A run of examples [Start, End) of one batch, decoded by one worker in one go.</summary>
internal readonly record struct WorkItem(BatchJob Job, int Start, int End);
