using System.Text;
using System.Text.Json;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>
/// Where each key and value of a JSON file is, by field path ("train.learning_rate.base", "records.shards.train",
/// "train.normalization.mean[2]"), as the 1-based line and column an editor shows: errors found after parsing can
/// still point into the file.
/// </summary>
public sealed class JsonSourceMap
{
    private readonly string _file;
    private readonly byte[] _utf8;
    private readonly List<int> _lineStarts = [0];
    private readonly Dictionary<string, int> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _scalars = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _ends = new(StringComparer.Ordinal);
    private readonly List<(int Start, int End, string Origin)> _origins = [];
    private (string Field, int Offset)? _duplicate;

    /// <param name="file">The file as messages name it.</param>
    /// <param name="utf8">Its bytes, without a byte-order mark.</param>
    public JsonSourceMap(string file, byte[] utf8)
    {
        _file = file;
        _utf8 = utf8;
        for (var i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                _lineStarts.Add(i + 1);
            }
        }
        try
        {
            Index();
        }
        catch (JsonException)
        {
            // Not valid JSON: the parser's own error says where; what was indexed up to there still answers.
        }
    }

    /// <summary>"file:line:col" of the field's value; of its nearest enclosing field present in the file if it is not; else the file.</summary>
    public string Locate(string field)
    {
        for (var path = field; ; path = Parent(path))
        {
            if (_values.TryGetValue(path, out var offset))
            {
                return At(offset);
            }
            if (path.Length == 0)
            {
                return _file;
            }
        }
    }

    /// <summary>"file:line:col" of the field's key (where an unknown key is), else as <see cref="Locate"/>.</summary>
    public string LocateKey(string field) => _keys.TryGetValue(field, out var offset) ? At(offset) : Locate(field);

    /// <summary>The first key given twice in one object, as a field path, with "file:line:col" of its second appearance; null if none.</summary>
    public (string Field, string Location)? DuplicateKey => _duplicate is { } d ? (d.Field, At(d.Offset)) : null;

    /// <summary>The value's text as written (a string in quotes), or null for an object, an array or a field not in the file.</summary>
    public string? Scalar(string field) => _scalars.GetValueOrDefault(field);

    /// <summary>The byte range [start, end) of the field's value in the file, or null when the file does not hold the field.</summary>
    public (int Start, int End)? Span(string field) =>
        _values.TryGetValue(field, out var start) && _ends.TryGetValue(field, out var end) ? (start, end) : null;

    /// <summary>The keys of the object at <paramref name="field"/> as field paths, in the file's order.</summary>
    public IReadOnlyList<string> Members(string field) =>
        [.. _keys.Where(k => Parent(k.Key) == field && !k.Key.EndsWith(']')).OrderBy(k => k.Value).Select(k => k.Key)];

    /// <summary>The byte offset of a key in the file, or null when the file does not hold it.</summary>
    public int? KeyOffset(string field) => _keys.TryGetValue(field, out var offset) ? offset : null;

    /// <summary>
    /// Says that a key and its value did not come from the file but from somewhere else (a --set override): a location
    /// inside them is then that origin instead of a line and column that are not in any file.
    /// </summary>
    public void Attribute(string field, string origin)
    {
        if (Span(field) is { } span)
        {
            _origins.Add((Math.Min(span.Start, _keys.GetValueOrDefault(field, span.Start)), span.End, origin));
        }
    }

    /// <summary>"file:line:col" of a 0-based line and byte position in it, as System.Text.Json's errors give them.</summary>
    public string At(long zeroBasedLine, long bytePositionInLine)
    {
        var offset = zeroBasedLine < _lineStarts.Count ? _lineStarts[(int)zeroBasedLine] + bytePositionInLine : -1;
        if (_origins.FirstOrDefault(o => offset >= o.Start && offset <= o.End) is { Origin: { } origin })
        {
            return origin;
        }
        var (line, column) = JsonErrors.Position(_utf8, zeroBasedLine, bytePositionInLine);
        return $"{_file}:{line}:{column}";
    }

    private string At(int offset)
    {
        if (_origins.FirstOrDefault(o => offset >= o.Start && offset < o.End) is { Origin: { } origin })
        {
            return origin;
        }
        var line = _lineStarts.BinarySearch(offset);
        if (line < 0)
        {
            line = ~line - 1;
        }
        var column = Encoding.UTF8.GetCharCount(_utf8, _lineStarts[line], offset - _lineStarts[line]) + 1;
        return $"{_file}:{line + 1}:{column}";
    }

    private void Index()
    {
        var reader = new Utf8JsonReader(_utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        // Each open container: its path, and for an array the index of its next element.
        var open = new Stack<(string Path, int NextIndex, bool IsArray)>();
        var property = "";
        while (reader.Read())
        {
            var offset = (int)reader.TokenStartIndex;
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    property = reader.GetString()!;
                    if (!_keys.TryAdd(Join(open.Peek().Path, property), offset))
                    {
                        _duplicate ??= (Join(open.Peek().Path, property), offset);
                    }
                    continue;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    _ends[open.Pop().Path] = (int)reader.BytesConsumed;
                    continue;
            }
            string path;
            if (open.Count == 0)
            {
                path = "";
            }
            else if (open.Peek().IsArray)
            {
                var array = open.Pop();
                path = $"{array.Path}[{array.NextIndex}]";
                open.Push(array with { NextIndex = array.NextIndex + 1 });
            }
            else
            {
                path = Join(open.Peek().Path, property);
            }
            _values[path] = offset;
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                open.Push((path, 0, reader.TokenType == JsonTokenType.StartArray));
            }
            else
            {
                _scalars[path] = Encoding.UTF8.GetString(_utf8, offset, (int)(reader.BytesConsumed - offset));
                _ends[path] = (int)reader.BytesConsumed;
            }
        }
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>"a.b[2]" → "a.b" → "a" → "".</summary>
    public static string Parent(string path)
    {
        var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
        return cut < 0 ? "" : path[..cut];
    }
}
