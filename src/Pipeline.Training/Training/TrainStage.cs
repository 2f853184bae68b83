using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Records;

namespace Pipeline.Training.Training;

/// <summary>
/// Trains the dataset's model from the Records stage's shards (never the raw images), with the train-and-evaluate
/// loop, checkpoints it resumes from, and TensorBoard logs. Writes train/model.bin, model.json and history.json.
/// </summary>
/// <remarks>
/// Checkpoints (artifacts/&lt;dataset&gt;/checkpoints/) and TensorBoard logs live outside the stage's outputs: they
/// must survive a killed run to be resumed from. Declare() touches no TorchSharp type, so Cake's process can
/// check freshness without loading libtorch.
/// </remarks>
public sealed class TrainStage : IStage, IResumable
{
    public const string Output = "train";

    /// <summary>artifacts/&lt;dataset&gt;/checkpoints/: not an output, since it must outlive a killed run.</summary>
    internal const string CheckpointsFolder = "checkpoints";

    private readonly StageContext _context;

    public TrainStage(StageContext context) => _context = context;

    public string Name => "train";

    public int ImplementationVersion => 1;

    private string RecordsFolder => Path.Combine(_context.ArtifactsDirectory, RecordsStage.Output);

    private string LabelsPath => Path.Combine(_context.ArtifactsDirectory, LabelsStage.Output);

    private string BottlenecksFolder => Path.Combine(_context.ArtifactsDirectory, Transfer.BottlenecksStage.Output);

    public StageDeclaration Declare()
    {
        if (_context.Dataset.Transfer is { } transfer)
        {
            // A transfer dataset trains its head on the bottlenecks; fine-tuning the backbone's last block also reads
            // the images and the backbone's weights.
            return new StageDeclaration(
                [
                    StageInput.File("labels.txt", LabelsPath),
                    .. BottleneckInputs(BottlenecksFolder),
                    .. transfer.FineTune is null ? [] : RecordInputs(RecordsFolder).Concat(Transfer.Backbones.Inputs(_context.Dataset, _context.ArtifactsDirectory)),
                ],
                new JsonObject { ["transfer"] = JsonSerializer.SerializeToNode(transfer, DatasetLoader.Options) },
                [Output]);
        }
        var inputs = new List<StageInput> { StageInput.File("labels.txt", LabelsPath) };
        inputs.AddRange(RecordInputs(RecordsFolder));
        return new StageDeclaration(
            inputs,
            new JsonObject { ["train"] = JsonSerializer.SerializeToNode(_context.Dataset.Train, DatasetLoader.Options) },
            [Output]) { Extendable = ["train.train_steps", "train.epochs"] };
    }

    /// <summary>The manifest and every shard it lists; just the manifest while Records has not been built.</summary>
    internal static IEnumerable<StageInput> RecordInputs(string recordsFolder)
    {
        var manifest = Path.Combine(recordsFolder, RecordsStage.ManifestName);
        yield return StageInput.File($"{RecordsStage.Output}/{RecordsStage.ManifestName}", manifest);
        if (!File.Exists(manifest))
        {
            yield break;
        }
        var records = RecordsManifest.Read(recordsFolder);
        foreach (var split in records.Splits)
        {
            foreach (var shard in records.ShardPaths(split))
            {
                yield return StageInput.File($"{RecordsStage.Output}/{Path.GetFileName(shard)}", shard);
            }
        }
    }

    /// <summary>The Bottlenecks stage's manifest and every split's file it lists; just the manifest while it has not been built.</summary>
    internal static IEnumerable<StageInput> BottleneckInputs(string folder)
    {
        var manifest = Path.Combine(folder, Transfer.BottlenecksStage.ManifestName);
        yield return StageInput.File($"{Transfer.BottlenecksStage.Output}/{Transfer.BottlenecksStage.ManifestName}", manifest);
        if (!File.Exists(manifest))
        {
            yield break;
        }
        foreach (var file in Directory.EnumerateFiles(folder, "*.bottlenecks").Order(StringComparer.Ordinal))
        {
            yield return StageInput.File($"{Transfer.BottlenecksStage.Output}/{Path.GetFileName(file)}", file);
        }
    }

    /// <summary>The newest intact checkpoint of this very training, which a run continues from; null when it trains from the start.</summary>
    public string? ResumePoint(string resumeKey)
    {
        var checkpoints = new CheckpointStore(Path.Combine(_context.ArtifactsDirectory, CheckpointsFolder), _context.Dataset.Train.KeepCheckpoints, _ => { });
        return checkpoints.Latest(resumeKey, int.MaxValue) is { } latest ? $"{latest.Name} at step {latest.Step}" : null;
    }

    public void Run(StageRun run)
    {
        if (_context.Dataset.Transfer is not null)
        {
            Transfer.HeadTrainer.Run(_context, run, BottlenecksFolder, LabelsPath);
        }
        else
        {
            TrainRunner.Run(_context, run, RecordsFolder, LabelsPath);
        }
    }
}
