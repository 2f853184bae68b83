using System.Text.Json.Nodes;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;
using Pipeline.Core.Records;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The frozen backbone's output for every image of the records: bottlenecks/&lt;split&gt;.bottlenecks, for a
/// dataset with a "transfer" section. Each image's bottleneck is kept in artifacts/&lt;dataset&gt;/bottleneck-cache by its
/// content hash under the backbone's fingerprint, so adding ten images computes ten bottlenecks, another backbone
/// computes them all, and head training parameters (not parameters of this stage) compute none.
/// </summary>
/// <remarks>The cache lives outside the stage's outputs: it must outlive any one set of records.</remarks>
public sealed class BottlenecksStage : IStage, IDescribesPendingWork
{
    public const string Output = "bottlenecks";
    public const string ManifestName = "manifest.json";
    public const string CacheFolder = "bottleneck-cache";

    /// <summary>What the head trains on: the manifest and every split's file (just the manifest while none is built).</summary>
    public static readonly StageOutputs Outputs = new("bottlenecks", Output, folder => File.Exists(Path.Combine(folder, ManifestName))
        ? [ManifestName, .. Directory.EnumerateFiles(folder, "*.bottlenecks").Select(file => Path.GetFileName(file)).Order(StringComparer.Ordinal)]
        : [ManifestName]);

    private readonly StageContext _context;

    public BottlenecksStage(StageContext context) => _context = context;

    public string Name => Outputs.Stage;

    public int ImplementationVersion => 1;

    /// <summary>
    /// Which backbone computes the bottlenecks, and how images are brought to it: the cache's key beside each image's
    /// hash. Another backbone (other files, weights or input) misses every entry, and so does a change to how images are
    /// decoded for it (a new <see cref="ImplementationVersion"/>).
    /// </summary>
    /// <exception cref="PipelineException">The backbone is another dataset's export, and it has none.</exception>
    public string BackboneKey => ContentHash.OfText($"{Backbones.Key(_context.Dataset, _context.ArtifactsDirectory)}:v{ImplementationVersion}");

    internal string RecordsFolder => Path.Combine(_context.ArtifactsDirectory, RecordsStage.Output);

    internal string CachePath => Path.Combine(_context.ArtifactsDirectory, CacheFolder);

    public StageDeclaration Declare() => new(
        [StageInput.OutputsOf(RecordsStage.Outputs, _context.ArtifactsDirectory), .. Backbones.Inputs(_context.Dataset, _context.ArtifactsDirectory)],
        new JsonObject
        {
            ["transfer"] = new JsonObject { ["from"] = _context.Dataset.Transfer!.From },
            ["backbone"] = Backbones.Parameters(_context.Dataset),
        },
        [Output]);

    public void Run(StageRun run) => BottlenecksRunner.Run(_context, run, this);

    public string? PendingWork()
    {
        try
        {
            var images = BottlenecksRunner.ImageHashes(RecordsManifest.Read(RecordsFolder), CancellationToken.None);
            var distinct = images.Distinct(StringComparer.Ordinal).Count();
            var missing = new BottleneckCache(CachePath, BackboneKey, _ => { }).CountMissing(images);
            return missing == 0
                ? $"all {distinct:N0} images have cached bottlenecks: none to compute"
                : $"{missing:N0} of {distinct:N0} images have no cached bottleneck: {missing:N0} to compute";
        }
        catch (Exception e) when (e is PipelineException or IOException)
        {
            return null; // no records yet, or damaged ones: the stage's own reasons say so
        }
    }
}
