using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Labels;

/// <summary>Writes labels.txt: the sorted distinct labels of the train split, or the dataset's fixed list.</summary>
public sealed class LabelsStage : IStage
{
    public const string Output = "labels.txt";

    /// <summary>labels.txt, which every later stage reads.</summary>
    public static readonly StageOutputs Outputs = new("labels", Output);

    private readonly DatasetDefinition _dataset;
    private readonly IDatasetSource _source;

    public LabelsStage(DatasetDefinition dataset, IDatasetSource source)
    {
        _dataset = dataset;
        _source = source;
    }

    public string Name => Outputs.Stage;

    public int ImplementationVersion => 1;

    public StageDeclaration Declare() => new(
        _source.LabelInputs("train"),
        new JsonObject
        {
            ["labels"] = JsonSerializer.SerializeToNode(_dataset.Labels, DatasetLoader.Options),
            ["source"] = SourceParameters.Of(_dataset.Source),
        },
        [Output]);

    public void Run(StageRun run)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (label, _) in _source.Labels("train"))
        {
            seen[label] = seen.GetValueOrDefault(label) + 1;
        }
        if (seen.Count == 0)
        {
            throw new PipelineException("the train split has no examples", _dataset.DefinitionPath);
        }

        LabelSet labels;
        if (_dataset.Labels.Fixed is { } fixedLabels)
        {
            if (fixedLabels.Count == 0)
            {
                throw new PipelineException("labels.fixed is empty; list the labels, or remove it to take them from the train split", _dataset.DefinitionPath);
            }
            labels = new LabelSet(fixedLabels);
            var unknown = seen.Where(p => !labels.Contains(p.Key)).OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
            {
                var counts = string.Join(", ", unknown.Select(p => $"\"{p.Key}\" ({p.Value} rows)"));
                if (!_dataset.Labels.DropUnknown)
                {
                    throw new PipelineException(
                        $"labels.fixed does not list {counts} found in the train split; add them to labels.fixed, or set labels.drop_unknown to true to drop those rows",
                        _dataset.DefinitionPath);
                }
                run.Log($"  train rows with labels outside labels.fixed will be dropped: {counts}");
            }
        }
        else
        {
            labels = new LabelSet(seen.Keys);
        }

        File.WriteAllText(run.PathOf(Output), labels.ToText());
        run.Log($"  {labels.Count} labels from {seen.Values.Sum()} train examples");
    }
}
