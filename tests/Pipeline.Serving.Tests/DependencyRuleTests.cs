using Pipeline.Serving.Http;

namespace Pipeline.Serving.Tests;

/// <summary>
/// The layering README's layout section states: Core ← Serving ← Training ← Cli. A server loads an export without
/// training code or libtorch, so Serving must never reference them; Core references none of ours.
/// </summary>
public sealed class DependencyRuleTests
{
    [Fact]
    public void Serving_references_neither_the_training_code_nor_TorchSharp()
    {
        var references = typeof(PredictionServer).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.Contains("Pipeline.Core", references);
        Assert.DoesNotContain(references, name => name.StartsWith("Pipeline.Training", StringComparison.Ordinal)
            || name.StartsWith("TorchSharp", StringComparison.Ordinal) || name.StartsWith("pipeline", StringComparison.Ordinal));
    }

    [Fact]
    public void Core_references_no_other_assembly_of_ours()
    {
        var references = typeof(Core.Engine.StageEngine).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.DoesNotContain(references, name => name.StartsWith("Pipeline.", StringComparison.Ordinal) || name.StartsWith("TorchSharp", StringComparison.Ordinal));
    }
}
