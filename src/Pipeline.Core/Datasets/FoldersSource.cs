using System.IO.Hashing;
using System.Text;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>Examples from one folder per class under a root (flower_photos/daisy/*.jpg), split by a stable hash of each path.</summary>
public sealed class FoldersSource : IDatasetSource
{
    private const int MaxDepth = 64;

    private readonly DatasetDefinition _dataset;
    private readonly FoldersSourceDefinition _definition;
    // Listed once per source so that the inputs a stage declares and the examples it then reads are the same files.
    private readonly Lazy<IReadOnlyDictionary<string, IReadOnlyList<Image>>> _images;

    public FoldersSource(DatasetDefinition dataset, FoldersSourceDefinition definition)
    {
        _dataset = dataset;
        _definition = definition;
        List<string> splits = ["train"];
        if (definition.ValidationPercent > 0)
        {
            splits.Add("validation");
        }
        if (definition.TestPercent > 0)
        {
            splits.Add("test");
        }
        Splits = SplitOrder.Sort(splits);
        _images = new Lazy<IReadOnlyDictionary<string, IReadOnlyList<Image>>>(List);
    }

    public IReadOnlyList<string> Splits { get; }

    public IReadOnlyList<StageInput> LabelInputs(string split) =>
        [StageInput.Listing($"folders:{split}", ImagesOf(split).Select(i => i.Relative))];

    public IReadOnlyList<StageInput> ExampleInputs(string split) =>
        [.. LabelInputs(split), .. ImagesOf(split).Select(i => StageInput.File(i.Relative, i.FullPath))];

    public IEnumerable<(string Label, string Origin)> Labels(string split) =>
        ImagesOf(split).Select(i => (i.Label, Display(i.FullPath)));

    public IReadOnlyList<SourceExample> Examples(string split) =>
        ImagesOf(split).Select(i => new SourceExample(split, i.Label, Display(i.FullPath), new FileImageRef(i.FullPath))).ToArray();

    /// <summary>
    /// The split of an image, from where its path (relative to the root, '/'-separated) falls in [0, 100).
    /// It depends on nothing but the path, so adding images never moves existing ones between splits.
    /// </summary>
    internal static string SplitOf(string relativePath, double validationPercent, double testPercent)
    {
        var bucket = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(relativePath)) % 10000 / 100.0;
        return bucket < validationPercent ? "validation"
            : bucket < validationPercent + testPercent ? "test"
            : "train";
    }

    private IReadOnlyList<Image> ImagesOf(string split) =>
        _images.Value.TryGetValue(split, out var images)
            ? images
            : throw new PipelineException($"no split \"{split}\" (this folders source has {string.Join(", ", Splits)})", DefinitionDisplay);

    private IReadOnlyDictionary<string, IReadOnlyList<Image>> List()
    {
        var root = _dataset.Resolve(_definition.Root);
        if (!Directory.Exists(root))
        {
            throw new PipelineException(
                $"source.root \"{_definition.Root}\" is {root}, which is not a folder; put one folder of images per class there, or fix source.root",
                DefinitionDisplay);
        }

        var extensions = _definition.Extensions.Select(e => e.StartsWith('.') ? e : $".{e}").ToHashSet(StringComparer.OrdinalIgnoreCase);
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            MaxRecursionDepth = MaxDepth,
            AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
            IgnoreInaccessible = false,
        };
        var bySplit = Splits.ToDictionary(s => s, _ => new List<Image>(), StringComparer.Ordinal);
        try
        {
            foreach (var classFolder in Directory.EnumerateDirectories(root))
            {
                var label = Path.GetFileName(classFolder);
                if (label.StartsWith('.') || File.GetAttributes(classFolder).HasFlag(FileAttributes.Hidden))
                {
                    continue;
                }
                foreach (var file in Directory.EnumerateFiles(classFolder, "*", options))
                {
                    var relative = Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');
                    // Dot-names count as hidden everywhere, not only where the file system marks them so.
                    if (!extensions.Contains(Path.GetExtension(file)) || relative.Split('/').Any(s => s.StartsWith('.')))
                    {
                        continue;
                    }
                    var split = SplitOf(relative, _definition.ValidationPercent, _definition.TestPercent);
                    bySplit[split].Add(new Image(relative, label, file));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot list the images: {e.Message}", Display(root), e);
        }

        return bySplit.ToDictionary(
            s => s.Key,
            s => (IReadOnlyList<Image>)s.Value.OrderBy(i => i.Relative, StringComparer.Ordinal).ToArray(),
            StringComparer.Ordinal);
    }

    private string DefinitionDisplay => _dataset.DefinitionPath.Length == 0 ? DatasetLoader.FileName : Display(_dataset.DefinitionPath);

    /// <summary>A path as people see it in messages and origins: relative to the current folder when under it, else full.</summary>
    private static string Display(string path) => DisplayPath.FromCurrentDirectory(path);

    private sealed record Image(string Relative, string Label, string FullPath);
}
