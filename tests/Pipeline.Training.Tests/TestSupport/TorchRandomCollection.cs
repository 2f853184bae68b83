namespace Pipeline.Training.Tests.TestSupport;

/// <summary>
/// libtorch has one process-wide random generator: module initialisation, dropout and
/// <c>torch.manual_seed</c> all share it. Tests that seed it and expect a given model, or that
/// create models and so draw from it, run in this collection, one at a time and never beside
/// each other, or a seeded test sees numbers another test took and its result depends on timing.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRandomCollection
{
    public const string Name = "libtorch global random generator";
}
