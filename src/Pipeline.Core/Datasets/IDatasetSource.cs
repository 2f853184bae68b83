using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>A dataset's examples per split, and the inputs whose content they depend on.</summary>
public interface IDatasetSource
{
    /// <summary>Split names in a stable order; always includes "train".</summary>
    IReadOnlyList<string> Splits { get; }

    /// <summary>Inputs that decide the labels of a split (label files, manifests, folder listings), not image content.</summary>
    IReadOnlyList<StageInput> LabelInputs(string split);

    /// <summary>Everything the split's examples depend on: label inputs plus every local image's content.</summary>
    IReadOnlyList<StageInput> ExampleInputs(string split);

    /// <summary>Only the labels of a split's examples, with their origins; cheaper than <see cref="Examples"/> where it can be.</summary>
    IEnumerable<(string Label, string Origin)> Labels(string split);

    /// <summary>The split's examples in the source's own stable order.</summary>
    IReadOnlyList<SourceExample> Examples(string split);
}
