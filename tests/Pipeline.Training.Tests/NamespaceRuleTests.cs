using System.Text.RegularExpressions;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Training.Tests;

/// <summary>
/// Inside the Training assembly the folders (namespaces) depend one way, as the chain runs: the data and the models
/// first, then training, transfer, evaluation, export and the smoke check. A stage reads an earlier stage's outputs
/// through <c>StageInput.OutputsOf</c>, so no earlier namespace needs a later one. Read from the source, where a
/// namespace is named (a using directive or a qualified name).
/// </summary>
public sealed partial class NamespaceRuleTests
{
    /// <summary>Each folder may use the ones before it in this list; Input and Models use none of ours.</summary>
    private static readonly string[] Layers = ["Input", "Models", "Distributed", "Train", "Transfer", "Evaluation", "Export", "Smoke", "Report"];

    [GeneratedRegex(@"using Pipeline\.Training\.(?<ns>[A-Za-z]+)\s*;|(?<![\w.])(?<ns>Input|Models|Distributed|Train|Transfer|Evaluation|Export|Smoke|Report)\.[A-Z]\w*")]
    private static partial Regex Reference();

    [Fact]
    public void Each_namespace_uses_only_the_ones_before_it_in_the_chain()
    {
        var source = Path.Combine(Repository.Root, "src", "Pipeline.Training");
        var wrong = new List<string>();
        foreach (var layer in Layers)
        {
            var allowed = Layers.Take(Array.IndexOf(Layers, layer)).ToHashSet(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(Path.Combine(source, layer), "*.cs"))
            {
                var text = File.ReadAllText(file);
                wrong.AddRange(Reference().Matches(text)
                    .Select(m => m.Groups["ns"].Value)
                    .Where(ns => ns != layer && Layers.Contains(ns) && !allowed.Contains(ns))
                    .Distinct()
                    .Select(ns => $"{layer}/{Path.GetFileName(file)} uses {ns}"));
            }
        }

        Assert.Empty(wrong);
        Assert.Equal(Layers.Order(StringComparer.Ordinal), Directory.EnumerateDirectories(source).Select(Path.GetFileName)
            .Where(d => d is not ("bin" or "obj")).Order(StringComparer.Ordinal));
    }
}
