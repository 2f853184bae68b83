namespace Pipeline.Core.Engine;

/// <summary>One thing a stage's outputs depend on, identified by a display name stable across machines.</summary>
public abstract record StageInput(string Name)
{
    /// <summary>A file whose bytes matter (hashed through the per-file hash cache).</summary>
    /// <param name="whenMissing">What to do when the file is missing, said with the stale reason ("build fashion-five first: …").</param>
    public static StageInput File(string name, string path, string? whenMissing = null) => new FileInput(name, path) { WhenMissing = whenMissing };

    /// <summary>A set of names whose membership matters but whose content does not (e.g. a folder's class list).</summary>
    public static StageInput Listing(string name, IEnumerable<string> entries) => new ListingInput(name, entries.Order(StringComparer.Ordinal).ToArray());

    /// <summary>
    /// What an earlier stage of the chain wrote, as <paramref name="outputs"/> lists it: each file is hashed like a
    /// <see cref="File"/> input named "&lt;output&gt;/&lt;file&gt;", and the dependency on that stage is known.
    /// </summary>
    /// <param name="artifactsDirectory">artifacts/&lt;dataset&gt;, which holds the outputs.</param>
    /// <param name="only">Just these of the files (names relative to the output); every listed file when empty.</param>
    public static StageInput OutputsOf(StageOutputs outputs, string artifactsDirectory, params string[] only)
    {
        var listed = outputs.Files(artifactsDirectory);
        var unknown = only.Except(listed.Select(f => f.Name), StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"{outputs.Stage} writes no {string.Join(", ", unknown)} in {outputs.Output}", nameof(only));
        }
        return new UpstreamInput(outputs.Stage, [.. listed.Where(f => only.Length == 0 || only.Contains(f.Name, StringComparer.Ordinal)).Select(f => f.Input)]);
    }
}

/// <summary>A file input.</summary>
public sealed record FileInput(string Name, string Path) : StageInput(Name)
{
    /// <summary>What to do when the file is missing, for a file another build makes (another dataset's export).</summary>
    public string? WhenMissing { get; init; }
}

/// <summary>A listing input: its hash is the hash of its sorted entries.</summary>
public sealed record ListingInput(string Name, IReadOnlyList<string> Entries) : StageInput(Name);

/// <summary>Files an earlier stage of the chain wrote (see <see cref="StageInput.OutputsOf"/>); named by that stage.</summary>
public sealed record UpstreamInput(string Stage, IReadOnlyList<FileInput> Files) : StageInput(Stage);
