using System.Text.RegularExpressions;

using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>
/// Errors in MSBuild's canonical form ("file(line,col): error PIPELINE: problem"), which MSBuild turns into errors with
/// file and line for IDEs and CI annotations. The pipeline command writes them when PIPELINE_ERROR_FORMAT=msbuild,
/// as the MSBuild task sets it.
/// </summary>
public static partial class MSBuildError
{
    public const string EnvironmentVariable = "PIPELINE_ERROR_FORMAT";

    public static bool Requested => Environment.GetEnvironmentVariable(EnvironmentVariable) == "msbuild";

    public static string Format(PipelineException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.Location is not { } location)
        {
            return $"pipeline : error PIPELINE: {error.Problem}";
        }
        var line = FileAndLine().Match(location);
        if (line.Success)
        {
            var column = line.Groups[3].Success ? $",{line.Groups[3].Value}" : "";
            return $"{Path.GetFullPath(line.Groups[1].Value)}({line.Groups[2].Value}{column}): error PIPELINE: {error.Problem}";
        }
        // "file: field" or "file: image 42": the file is the origin, the rest belongs to the message.
        var separator = location.IndexOf(": ", StringComparison.Ordinal);
        return separator < 0
            ? $"{Path.GetFullPath(location)}: error PIPELINE: {error.Problem}"
            : $"{Path.GetFullPath(location[..separator])}: error PIPELINE: {location[(separator + 2)..]}: {error.Problem}";
    }

    /// <summary>A log line that is a warning ("warning: …", as the engine writes them) in canonical form; other lines as they are.</summary>
    public static string Warning(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        const string prefix = "warning: ";
        var trimmed = line.TrimStart();
        return trimmed.StartsWith(prefix, StringComparison.Ordinal) ? $"pipeline : warning PIPELINE: {trimmed[prefix.Length..]}" : line;
    }

    /// <summary>"file:line" or "file:line:col".</summary>
    [GeneratedRegex(@"^(.+?):(\d+)(?::(\d+))?$")]
    private static partial Regex FileAndLine();
}
