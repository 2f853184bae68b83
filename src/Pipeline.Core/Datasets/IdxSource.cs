using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>Examples from MNIST-format IDX image and label files.</summary>
public sealed class IdxSource : IDatasetSource
{
    private readonly IdxSourceDefinition _definition;
    private readonly DatasetDefinition _dataset;

    public IdxSource(DatasetDefinition dataset, IdxSourceDefinition definition)
    {
        _dataset = dataset;
        _definition = definition;
        Splits = SplitOrder.Sort(definition.Splits.Keys);
    }

    public IReadOnlyList<string> Splits { get; }

    public IReadOnlyList<StageInput> LabelInputs(string split) =>
        [StageInput.File($"{split}.labels", LabelsPath(split))];

    public IReadOnlyList<StageInput> ExampleInputs(string split) =>
        [.. LabelInputs(split), StageInput.File($"{split}.images", _dataset.Resolve(_definition.Splits[split].Images))];

    public IEnumerable<(string Label, string Origin)> Labels(string split)
    {
        var path = LabelsPath(split);
        var labels = ReadLabels(path);
        foreach (var i in Selected(split, labels))
        {
            yield return (ClassName(labels.Data[i], path, i), $"{Path.GetFileName(path)}: item {i}");
        }
    }

    public IReadOnlyList<SourceExample> Examples(string split)
    {
        var labelsPath = LabelsPath(split);
        var imagesPath = _dataset.Resolve(_definition.Splits[split].Images);
        var labels = ReadLabels(labelsPath);
        var images = IdxFile.Read(imagesPath);
        if (images.Dimensions.Count != 3)
        {
            throw new PipelineException($"expected images (count × rows × columns), found {images.Dimensions.Count} dimensions", imagesPath);
        }
        if (images.Count != labels.Count)
        {
            throw new PipelineException($"{images.Count} images but {labels.Count} labels in {labelsPath}", imagesPath);
        }

        var (rows, columns) = (images.Dimensions[1], images.Dimensions[2]);
        if (rows == 0 || columns == 0)
        {
            throw new PipelineException($"images are {rows}×{columns} pixels; an image needs at least one of each", imagesPath);
        }
        var size = rows * columns;
        var imageFile = Path.GetFileName(imagesPath);
        // Named by split and index, not by the IDX file's name: that name is not an input of any stage,
        // so renaming the file must not change what the records hold.
        var examples = new List<SourceExample>(images.Count);
        foreach (var i in Selected(split, labels))
        {
            var label = ClassName(labels.Data[i], labelsPath, i);
            var pixels = new ReadOnlyMemory<byte>(images.Data, i * size, size);
            examples.Add(new SourceExample(split, label, $"{imageFile}: image {i}",
                new PixelImageRef($"{split}-{i:D5}.png", pixels, columns, rows)));
        }
        return examples;
    }

    /// <summary>
    /// The items the split takes, in file order: all of them, or per class the first per_class after skip_per_class.
    /// Items keep their index in the file (and so their names), so a subset that grows only adds images.
    /// </summary>
    private IEnumerable<int> Selected(string split, IdxFile labels)
    {
        var definition = _definition.Splits[split];
        if (definition.PerClass is null && definition.SkipPerClass == 0)
        {
            for (var i = 0; i < labels.Count; i++)
            {
                yield return i;
            }
            yield break;
        }
        var take = definition.PerClass ?? int.MaxValue;
        var seen = new int[256];
        for (var i = 0; i < labels.Count; i++)
        {
            var n = seen[labels.Data[i]]++;
            if (n >= definition.SkipPerClass && n - definition.SkipPerClass < take)
            {
                yield return i;
            }
        }
    }

    private string LabelsPath(string split) => _dataset.Resolve(_definition.Splits[split].Labels);

    private static IdxFile ReadLabels(string path)
    {
        var labels = IdxFile.Read(path);
        if (labels.Dimensions.Count != 1)
        {
            throw new PipelineException($"expected a labels file (one dimension), found {labels.Dimensions.Count} dimensions", path);
        }
        return labels;
    }

    private string ClassName(byte index, string path, int item) =>
        index < _definition.ClassNames.Count
            ? _definition.ClassNames[index]
            : throw new PipelineException(
                $"item {item}: label {index} has no name (source.class_names lists {_definition.ClassNames.Count}); add it to dataset.json",
                path);
}
