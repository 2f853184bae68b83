namespace Pipeline.Core.Engine;

/// <summary>
/// The part of a stage's output that later stages read, as the stage that writes it describes it: the other half of
/// <see cref="StageInput.OutputsOf"/>. An upstream stage's output is simply an input of the stage after it (DVC's
/// outs and deps), so no later stage spells out another's file names.
/// </summary>
/// <param name="Stage">The stage that writes the output.</param>
/// <param name="Output">The output, relative to the dataset's artifacts folder: a file ("labels.txt") or a folder ("records").</param>
/// <param name="List">
/// Given the output folder, the files in it later stages read, relative to it with '/'. A listing may depend on what
/// was built (the shards a manifest names): before the build it gives what it can (the manifest), whose absence then
/// says the stage is not built. Null when the output is one file.
/// </param>
public sealed record StageOutputs(string Stage, string Output, Func<string, IEnumerable<string>>? List = null)
{
    /// <summary>The files, each as a file input named "&lt;output&gt;/&lt;file&gt;" (just the output's name for a file output).</summary>
    /// <param name="artifactsDirectory">artifacts/&lt;dataset&gt;.</param>
    public IReadOnlyList<(string Name, FileInput Input)> Files(string artifactsDirectory)
    {
        var output = Path.Combine(artifactsDirectory, Output);
        if (List is null)
        {
            return [(Output, new FileInput(Output, output))];
        }
        return [.. List(output).Select(file => (file, new FileInput($"{Output}/{file}", Path.Combine(output, file))))];
    }
}
