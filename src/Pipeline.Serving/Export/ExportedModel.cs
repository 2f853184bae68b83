using System.Globalization;
using Pipeline.Core.Engine;

namespace Pipeline.Serving.Export;

/// <summary>
/// One version of an export, found from what a person passes as --model: the export folder
/// (artifacts/&lt;dataset&gt;/export, meaning its latest version), its "latest" pointer file, or a version folder.
/// </summary>
public sealed class ExportedModel
{
    /// <summary>The file in an export folder that names its newest version (a file, not a link, so it works on every OS).</summary>
    public const string LatestPointer = "latest";

    private ExportedModel(string folder, int version, ModelCard card)
    {
        Folder = folder;
        Version = version;
        Card = card;
    }

    /// <summary>The version folder: model.json, model.onnx, model.safetensors, labels.txt.</summary>
    public string Folder { get; }

    /// <summary>The version number: the folder's name, as a SavedModel's export folders are numbered.</summary>
    public int Version { get; }

    public ModelCard Card { get; }

    public string OnnxPath => Path.Combine(Folder, ModelCard.OnnxFile);

    public string WeightsPath => Path.Combine(Folder, ModelCard.WeightsFile);

    /// <exception cref="PipelineException">Nothing exported there, or the version is incomplete or inconsistent.</exception>
    public static ExportedModel Open(string path)
    {
        var folder = ResolveVersionFolder(Path.GetFullPath(path));
        var name = Path.GetFileName(folder);
        if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw new PipelineException($"an exported version's folder is named by its number (1, 2, …), not \"{name}\"", folder);
        }
        var card = ModelCard.Read(folder);
        foreach (var file in new[] { ModelCard.OnnxFile, ModelCard.LabelsFile })
        {
            if (!File.Exists(Path.Combine(folder, file)))
            {
                throw new PipelineException($"{file} is missing: the export is incomplete; rebuild it with --target=Export --force", folder);
            }
        }
        var labels = File.ReadAllLines(Path.Combine(folder, ModelCard.LabelsFile));
        if (!labels.SequenceEqual(card.Classes))
        {
            throw new PipelineException($"{ModelCard.LabelsFile} lists {labels.Length} labels that differ from the {card.Classes.Count} classes of {ModelCard.FileName}; "
                + "the export was edited by hand: rebuild it with --target=Export --force", folder);
        }
        return new ExportedModel(folder, version, card);
    }

    /// <summary>Existing version numbers under an export folder, ascending.</summary>
    public static IReadOnlyList<int> Versions(string exportFolder) => !Directory.Exists(exportFolder)
        ? []
        : Directory.EnumerateDirectories(exportFolder)
            .Select(Path.GetFileName)
            // Only canonical names ("7", not "07"): a version's folder is found again by printing its number.
            .Select(n => int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v.ToString(CultureInfo.InvariantCulture) == n ? v : -1)
            .Where(v => v > 0)
            .Order()
            .ToList();

    /// <summary>The version the export folder's <see cref="LatestPointer"/> names, or null when it has none.</summary>
    public static int? Latest(string exportFolder)
    {
        var pointer = Path.Combine(exportFolder, LatestPointer);
        if (!File.Exists(pointer))
        {
            return null;
        }
        var text = File.ReadAllText(pointer).Trim();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0
            ? version
            : throw new PipelineException($"holds \"{text}\", not a version number; rebuild the export with --target=Export --force", pointer);
    }

    private static string ResolveVersionFolder(string path)
    {
        if (File.Exists(path))
        {
            if (Path.GetFileName(path) != LatestPointer)
            {
                throw new PipelineException($"a file, not an export's \"{LatestPointer}\" file; pass an export folder (artifacts/<dataset>/export), "
                    + "its \"latest\" file, or a version folder", path);
            }
            // The pointer file itself: artifacts/<dataset>/export/latest.
            var root = Path.GetDirectoryName(path)!;
            return Path.Combine(root, Latest(root)!.Value.ToString(CultureInfo.InvariantCulture));
        }
        if (!Directory.Exists(path))
        {
            throw new PipelineException("no such file or folder; pass an export folder (artifacts/<dataset>/export), its \"latest\" file, or a version folder", path);
        }
        if (File.Exists(Path.Combine(path, ModelCard.FileName)))
        {
            return path;
        }
        if (Latest(path) is { } latest)
        {
            return Path.Combine(path, latest.ToString(CultureInfo.InvariantCulture));
        }
        throw new PipelineException($"neither an exported version (no {ModelCard.FileName}) nor an export folder (no \"{LatestPointer}\" file); "
            + "build one with ./build.sh --target=Export", path);
    }
}
