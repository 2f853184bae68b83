using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Pipeline.MSBuild;

/// <summary>
/// Builds a dataset's stage (and the stages it needs) by running the pipeline command, as Cake does: the same
/// engine, the same skip decisions and reasons. A ToolTask, so TorchSharp and the engine never load inside
/// MSBuild's process. The command reports errors in MSBuild's canonical form, so a bad CSV row becomes an error
/// with its file and line in the IDE and in CI annotations.
/// </summary>
public sealed class PipelineStage : ToolTask
{
    /// <summary>labels, records, train, evaluate, export or smokepredict.</summary>
    [Required]
    public string Stage { get; set; } = "";

    /// <summary>A dataset name (datasets/NAME) or a path to a dataset folder or dataset.json.</summary>
    [Required]
    public string Dataset { get; set; } = "";

    /// <summary>The repository holding datasets/, artifacts/ and the built command in build/.bin/.</summary>
    [Required]
    public string RepositoryRoot { get; set; } = "";

    public bool Force { get; set; }

    /// <summary>The run-cache folder, or a remote cache's http(s):// URL (with the default folder in front of it); empty for the default.</summary>
    public string Cache { get; set; } = "";

    /// <summary>The dataset's artifacts folder (artifacts/&lt;name&gt;), for targets that copy outputs.</summary>
    [Output]
    public string ArtifactsDirectory { get; private set; } = "";

    protected override string ToolName => OperatingSystem.IsWindows() ? "pipeline.exe" : "pipeline";

    // Stage reasons ("Train: stale — learning_rate.base 0.002 → 0.001") are what a person wants to see.
    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.High;

    // From the repository root, as Cake runs it: messages and recorded origins are then the same whichever
    // project's folder MSBuild started in.
    protected override string GetWorkingDirectory() => RepositoryRoot;

    protected override string GenerateFullPathToTool() => Path.Combine(RepositoryRoot, "build", ".bin", ToolName);

    protected override string GenerateCommandLineCommands() => CommandLine(Stage, Dataset, RepositoryRoot, Force, Cache);

    internal static string CommandLine(string stage, string dataset, string root, bool force, string cache)
    {
        var builder = new CommandLineBuilder();
        builder.AppendTextUnquoted("run");
        builder.AppendSwitch(stage.ToLowerInvariant());
        builder.AppendSwitchIfNotNull("--dataset ", dataset);
        builder.AppendSwitchIfNotNull("--root ", root);
        if (force)
        {
            builder.AppendSwitch("--force");
        }
        if (!string.IsNullOrEmpty(cache))
        {
            builder.AppendSwitchIfNotNull("--cache ", cache);
        }
        return builder.ToString();
    }

    public override bool Execute()
    {
        // Read by the command (Pipeline.Cli.Commands.MSBuildError); this assembly references no engine code.
        EnvironmentVariables = [.. EnvironmentVariables ?? [], "PIPELINE_ERROR_FORMAT=msbuild"];
        var succeeded = base.Execute();
        ArtifactsDirectory = Path.Combine(RepositoryRoot, "artifacts", DatasetName(Dataset, RepositoryRoot));
        return succeeded && !Log.HasLoggedErrors;
    }

    protected override bool ValidateParameters()
    {
        if (!File.Exists(GenerateFullPathToTool()))
        {
            Log.LogError($"the pipeline command is not built ({GenerateFullPathToTool()}); run ./build.sh --target=Status once, or build the PipelineEngine target");
            return false;
        }
        return base.ValidateParameters();
    }

    protected override Encoding StandardOutputEncoding => Encoding.UTF8;

    protected override Encoding StandardErrorEncoding => Encoding.UTF8;

    /// <summary>The dataset's name (its artifacts folder), read from its dataset.json as the engine finds it.</summary>
    internal static string DatasetName(string dataset, string root)
    {
        foreach (var candidate in new[] { dataset, Path.Combine(dataset, "dataset.json"), Path.Combine(root, "datasets", dataset, "dataset.json") })
        {
            var path = Path.IsPathRooted(candidate) ? candidate : Path.Combine(root, candidate);
            if (File.Exists(path))
            {
                try
                {
                    using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path),
                        new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
                    if (json.RootElement.TryGetProperty("name", out var name) && name.ValueKind == System.Text.Json.JsonValueKind.String)
                    {
                        return name.GetString()!;
                    }
                }
                catch (System.Text.Json.JsonException)
                {
                    // The command has already reported it; fall back to the folder's name.
                }
            }
        }
        return Path.GetFileName(dataset.TrimEnd('/', '\\'));
    }
}
