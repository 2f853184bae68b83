// The commands write to the process's one console, which the tests capture.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
