using System.Text;
using System.Text.RegularExpressions;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Datasets;

/// <summary>
/// Sets one field of a dataset.json by editing its text: the value's bytes are replaced, or the key is added to the
/// nearest enclosing object the file has, so comments, order and layout stay as the person wrote them.
/// </summary>
public static partial class DatasetEdit
{
    /// <summary>How the edit is laid out.</summary>
    public enum Layout
    {
        /// <summary>As a person would write it: a new key on its own line, indented like the key before it.</summary>
        Readable,

        /// <summary>
        /// Without adding or removing a line, so every other value keeps its line number (for overrides: an error in
        /// the file still points at the file's own line).
        /// </summary>
        SameLines,
    }

    /// <param name="utf8">The file's bytes (no byte-order mark).</param>
    /// <param name="file">The file as messages name it.</param>
    /// <param name="field">The field path: "train.learning_rate.base", "records.shards.train", "train.normalization.mean[0]".</param>
    /// <param name="json">The new value, as JSON text.</param>
    /// <param name="origin">What the edit is called in an error ("--set train.x=1").</param>
    /// <exception cref="PipelineException">The file's value on the way is not an object, or an array has no such element.</exception>
    public static byte[] Set(byte[] utf8, string file, string field, string json, Layout layout, string origin)
    {
        var map = new JsonSourceMap(file, utf8);
        if (map.Span(field) is { } span)
        {
            var replaced = Encoding.UTF8.GetString(utf8, span.Start, span.End - span.Start);
            var lines = layout == Layout.SameLines ? new string('\n', replaced.Count(c => c == '\n')) : "";
            return Splice(utf8, span.Start, span.End, json + lines);
        }
        // The nearest enclosing field the file has, and the keys to add under it.
        var missing = new List<string>();
        var parent = field;
        while (map.Span(parent) is null)
        {
            if (parent.EndsWith(']'))
            {
                throw new PipelineException($"{origin}: {JsonSourceMap.Parent(parent)} has no element {parent[parent.LastIndexOf('[')..]} in {file}; set the whole array instead");
            }
            missing.Insert(0, parent[(parent.LastIndexOf('.') + 1)..]);
            parent = JsonSourceMap.Parent(parent);
            if (parent.Length == 0 && map.Span("") is null)
            {
                throw new PipelineException($"{origin}: {file} holds no JSON object to set it in");
            }
        }
        var container = map.Span(parent)!.Value;
        if (utf8[container.Start] != (byte)'{')
        {
            throw new PipelineException($"{origin}: {(parent.Length == 0 ? "the top level" : parent)} is not an object in {file}, so it has no key \"{missing[0]}\"; set {(parent.Length == 0 ? "it" : parent)} itself");
        }
        var value = json;
        foreach (var key in missing.Skip(1).Reverse())
        {
            value = $"{{ {Quote(key)}: {value} }}";
        }
        var member = $"{Quote(missing[0])}: {value}";
        var members = map.Members(parent);
        if (members.Count == 0)
        {
            return Splice(utf8, container.Start + 1, container.Start + 1, $" {member} ");
        }
        var last = map.Span(members[^1])!.Value.End;
        // A trailing comma after the last member (the loader allows one) is kept, with the new member after it.
        var next = last;
        while (next < container.End && utf8[next] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            next++;
        }
        var trailingComma = utf8[next] == (byte)',';
        var indent = layout == Layout.Readable ? OwnLineIndent(utf8, map.KeyOffset(members[^1])!.Value) : null;
        var text = indent is null ? $", {member}" : $",\n{indent}{member}";
        return trailingComma
            ? Splice(utf8, next + 1, next + 1, indent is null ? $" {member}," : $"\n{indent}{member},")
            : Splice(utf8, last, last, text);
    }

    /// <summary>Applies overrides in order, each as <see cref="Set"/> with the override as its origin.</summary>
    public static byte[] Apply(byte[] utf8, string file, IEnumerable<DatasetOverride> overrides, Layout layout)
    {
        foreach (var o in overrides)
        {
            utf8 = Set(utf8, file, o.Field, o.Json, layout, $"--set {o}");
        }
        return utf8;
    }

    /// <summary>The whitespace before a key that starts its own line; null when something else comes first on that line.</summary>
    private static string? OwnLineIndent(byte[] utf8, int keyOffset)
    {
        var start = keyOffset;
        while (start > 0 && utf8[start - 1] != (byte)'\n')
        {
            start--;
        }
        var before = Encoding.UTF8.GetString(utf8, start, keyOffset - start);
        return Indentation().IsMatch(before) ? before : null;
    }

    private static string Quote(string key) => System.Text.Json.JsonSerializer.Serialize(key);

    private static byte[] Splice(byte[] utf8, int start, int end, string text) =>
        [.. utf8.AsSpan(0, start), .. Encoding.UTF8.GetBytes(text), .. utf8.AsSpan(end)];

    [GeneratedRegex(@"^[ \t]*$")]
    private static partial Regex Indentation();
}
