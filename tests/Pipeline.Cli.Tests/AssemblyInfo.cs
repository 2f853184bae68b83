// The commands write to the process's console, which PipelineCommand swaps for a capture; two tests at once would mix their output.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
