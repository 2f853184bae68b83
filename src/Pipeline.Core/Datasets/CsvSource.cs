using System.Text;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>Examples listed in the reference lab's manifests: one "image,label" CSV per split.</summary>
public sealed class CsvSource : IDatasetSource
{
    private const string Expected = "each line should be image,label (e.g. daisy/1.jpg,daisy); quote an image that contains a comma: \"a, b.jpg\",daisy";

    private readonly DatasetDefinition _dataset;
    private readonly CsvSourceDefinition _definition;
    private readonly DownloadCache _downloads;
    private readonly HashSet<string> _splitsSharingACsv;

    public CsvSource(DatasetDefinition dataset, CsvSourceDefinition definition, DownloadCache downloads)
    {
        _dataset = dataset;
        _definition = definition;
        _downloads = downloads;
        if (!definition.Splits.ContainsKey("train"))
        {
            var found = definition.Splits.Count == 0 ? "none" : string.Join(", ", SplitOrder.Sort(definition.Splits.Keys));
            throw new PipelineException(
                $"source.splits has no \"train\" split (found: {found}); add \"train\": \"path/to/train.csv\"",
                DefinitionDisplay);
        }
        Splits = SplitOrder.Sort(definition.Splits.Keys);
        _splitsSharingACsv = definition.Splits
            .GroupBy(s => s.Value, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .SelectMany(g => g.Select(s => s.Key))
            .ToHashSet(StringComparer.Ordinal);
    }

    public IReadOnlyList<string> Splits { get; }

    public IReadOnlyList<StageInput> LabelInputs(string split)
    {
        var written = Written(split);
        // Named as written in dataset.json so the name is the same on every machine; the split is added only when two splits share a CSV.
        var name = _splitsSharingACsv.Contains(split) ? $"{split}:{written}" : written;
        return [StageInput.File(name, LocalCsv(split))];
    }

    public IReadOnlyList<StageInput> ExampleInputs(string split)
    {
        var inputs = new List<StageInput>(LabelInputs(split));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in ReadRows(split, LocalCsv(split)))
        {
            // Remote images are pinned by their URL in the CSV. A missing local image is left out rather than failing here,
            // so the records stage can report it with its CSV line, or skip it when on_bad_image is "skip";
            // once it appears it becomes an input, which makes the stage stale.
            if (row.Image is { IsRemote: false } image && seen.Add(row.Field) && File.Exists(image.Location))
            {
                inputs.Add(StageInput.File($"{split}:{row.Field}", image.Location));
            }
        }
        return inputs;
    }

    public IEnumerable<(string Label, string Origin)> Labels(string split)
    {
        var csv = LocalCsv(split);
        return ReadRows(split, csv).Select(row => (row.Label, row.Origin));
    }

    public IReadOnlyList<SourceExample> Examples(string split) =>
        ReadRows(split, LocalCsv(split)).Select(row => new SourceExample(split, row.Label, row.Origin, row.Image)).ToArray();

    private string DefinitionDisplay => _dataset.DefinitionPath.Length == 0 ? DatasetLoader.FileName : Display(_dataset.DefinitionPath);

    private string Written(string split) =>
        _definition.Splits.TryGetValue(split, out var written)
            ? written
            : throw new PipelineException($"no split \"{split}\" in source.splits (it has {string.Join(", ", Splits)})", DefinitionDisplay);

    /// <summary>The CSV on this machine: the resolved path, or the cached download of a URL.</summary>
    private string LocalCsv(string split)
    {
        var resolved = _dataset.Resolve(Written(split));
        if (IsRemote(resolved))
        {
            return _downloads.Fetch(resolved, $"{DefinitionDisplay}: source.splits.{split}");
        }
        if (!File.Exists(resolved))
        {
            throw new PipelineException(
                $"CSV file not found (source.splits.{split} in {DefinitionDisplay} is \"{Written(split)}\"); create it or fix the path",
                Display(resolved));
        }
        return resolved;
    }

    private IEnumerable<Row> ReadRows(string split, string localCsv)
    {
        var resolved = _dataset.Resolve(Written(split));
        var display = Display(resolved);
        var fields = new List<string>(2);
        var lineNumber = 0;
        var sawContent = false;
        using var reader = Open(localCsv, display);
        while (ReadLine(reader, display) is { } line)
        {
            lineNumber++;
            if (lineNumber == 1)
            {
                line = line.TrimStart('\uFEFF');
            }
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var location = $"{display}:{lineNumber}";
            var error = Split(line, fields);
            var firstContent = !sawContent;
            sawContent = true;
            if (firstContent && IsHeader(fields))
            {
                continue;
            }
            if (error is not null)
            {
                throw new PipelineException($"{error}; {Expected}", location);
            }
            if (fields.Count != 2)
            {
                throw new PipelineException($"expected 2 fields, found {fields.Count} in \"{line.Trim()}\"; {Expected}", location);
            }
            var (field, label) = (fields[0], fields[1]);
            if (field.Length == 0)
            {
                throw new PipelineException($"the image field is empty; {Expected}", location);
            }
            if (label.Length == 0)
            {
                throw new PipelineException($"the label of \"{field}\" is empty; {Expected}", location);
            }
            yield return new Row(field, label, location, ImageOf(field, resolved, location));
        }
    }

    private static StreamReader Open(string path, string display)
    {
        try
        {
            return new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read: {e.Message}", display, e);
        }
    }

    private static string? ReadLine(StreamReader reader, string display)
    {
        try
        {
            return reader.ReadLine();
        }
        catch (IOException e)
        {
            throw new PipelineException($"cannot read: {e.Message}", display, e);
        }
    }

    private static readonly HashSet<string> ImageColumns = new(StringComparer.OrdinalIgnoreCase)
    {
        "image", "images", "image_uri", "image_url", "image_path", "uri", "url", "path", "file", "filename", "file_name",
    };

    private static readonly HashSet<string> LabelColumns = new(StringComparer.OrdinalIgnoreCase)
    {
        "label", "labels", "class", "class_name", "category", "synset",
    };

    /// <summary>
    /// A header names its columns: "image,label" and the like. Anything else is data, so a header-less CSV whose
    /// first image happens to have no extension ("IMG_0001,daisy") keeps its first row.
    /// </summary>
    private static bool IsHeader(List<string> fields) =>
        fields.Count == 2 && (ImageColumns.Contains(fields[0]) || LabelColumns.Contains(fields[1]))
        && fields[0].IndexOfAny(['.', '/', '\\', ':']) < 0;

    /// <summary>Splits one line into trimmed fields (RFC 4180 quoting within the line); returns what is wrong, or null.</summary>
    internal static string? Split(string line, List<string> fields)
    {
        fields.Clear();
        var i = 0;
        // Each pass consumes one field and the comma after it, so this ends within line.Length + 1 passes.
        while (i <= line.Length)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
            {
                i++;
            }
            if (i < line.Length && line[i] == '"')
            {
                var value = new StringBuilder();
                var closed = false;
                for (i++; i < line.Length; i++)
                {
                    if (line[i] != '"')
                    {
                        value.Append(line[i]);
                    }
                    else if (i + 1 < line.Length && line[i + 1] == '"')
                    {
                        value.Append('"');
                        i++;
                    }
                    else
                    {
                        closed = true;
                        i++;
                        break;
                    }
                }
                if (!closed)
                {
                    return $"field {fields.Count + 1} opens a quote that is not closed";
                }
                while (i < line.Length && char.IsWhiteSpace(line[i]))
                {
                    i++;
                }
                if (i < line.Length && line[i] != ',')
                {
                    return $"field {fields.Count + 1} has text after its closing quote";
                }
                fields.Add(value.ToString());
            }
            else
            {
                var comma = line.IndexOf(',', i);
                var end = comma < 0 ? line.Length : comma;
                fields.Add(line[i..end].Trim());
                i = end;
            }
            i++;
        }
        return null;
    }

    private static FileImageRef ImageOf(string field, string csv, string location)
    {
        if (IsRemote(field))
        {
            return new FileImageRef(field);
        }
        var scheme = field.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            throw new PipelineException(
                $"image \"{field}\" uses the unsupported scheme {field[..scheme]}://; use a local path, http(s):// or gs://", location);
        }
        if (Path.IsPathFullyQualified(field))
        {
            return new FileImageRef(field);
        }
        if (IsRemote(csv))
        {
            return new FileImageRef(RelativeToUrl(csv, field));
        }
        // Manifests written on Windows use '\'; elsewhere it is almost never part of a real file name.
        var local = field.Replace('\\', '/').Replace('/', Path.DirectorySeparatorChar);
        return new FileImageRef(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(csv)!, local)));
    }

    /// <summary>A relative image in a remote CSV is relative to the CSV's URL, as a link in a web page is.</summary>
    private static string RelativeToUrl(string csvUrl, string field)
    {
        var relative = field.Replace('\\', '/');
        if (csvUrl.StartsWith("gs://", StringComparison.OrdinalIgnoreCase))
        {
            // Left unescaped: gs:// object names are raw, and the download cache escapes them.
            return csvUrl[..(csvUrl.LastIndexOf('/') + 1)] + relative;
        }
        return new Uri(new Uri(csvUrl), relative).AbsoluteUri;
    }

    private static bool IsRemote(string location) => new FileImageRef(location).IsRemote;

    private static string Display(string path) => IsRemote(path) ? path : DisplayPath.FromCurrentDirectory(path);

    private sealed record Row(string Field, string Label, string Origin, FileImageRef Image);
}
