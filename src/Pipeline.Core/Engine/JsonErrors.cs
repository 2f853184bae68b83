using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Pipeline.Core.Engine;

/// <summary>
/// System.Text.Json's errors as people read them: its own 0-based "LineNumber | BytePositionInLine" suffix removed,
/// and the position given as the 1-based line and column (in characters) an editor shows.
/// </summary>
public static partial class JsonErrors
{
    /// <summary>The message without the reader's trailing "Path: … | LineNumber: … | BytePositionInLine: …".</summary>
    public static string WithoutPosition(string message) => PositionSuffix().Replace(message, "").TrimEnd();

    /// <summary>Where the error is in <paramref name="utf8"/>, 1-based, the column in characters; null if the reader gave no position.</summary>
    public static (long Line, long Column)? Position(ReadOnlySpan<byte> utf8, JsonException error) =>
        error.LineNumber is { } line ? Position(utf8, line, error.BytePositionInLine ?? 0) : null;

    /// <summary>A 0-based line and byte position in that line, as the reader counts them, as a 1-based line and column in characters.</summary>
    public static (long Line, long Column) Position(ReadOnlySpan<byte> utf8, long zeroBasedLine, long bytePositionInLine)
    {
        var start = 0;
        var line = 0L;
        for (; line < zeroBasedLine; line++)
        {
            var newline = utf8[start..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }
            start += newline + 1;
        }
        var before = utf8.Slice(start, (int)Math.Min(bytePositionInLine, utf8.Length - start));
        return (line + 1, Encoding.UTF8.GetCharCount(before) + 1);
    }

    [GeneratedRegex(@"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?\s*$")]
    private static partial Regex PositionSuffix();
}
