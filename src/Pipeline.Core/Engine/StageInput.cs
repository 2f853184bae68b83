namespace Pipeline.Core.Engine;

/// <summary>One thing a stage's outputs depend on, identified by a display name stable across machines.</summary>
public abstract record StageInput(string Name)
{
    /// <summary>A file whose bytes matter (hashed through the per-file hash cache).</summary>
    /// <param name="whenMissing">What to do when the file is missing, said with the stale reason ("build fashion-five first: …").</param>
    public static StageInput File(string name, string path, string? whenMissing = null) => new FileInput(name, path) { WhenMissing = whenMissing };

    /// <summary>A set of names whose membership matters but whose content does not (e.g. a folder's class list).</summary>
    public static StageInput Listing(string name, IEnumerable<string> entries) => new ListingInput(name, entries.Order(StringComparer.Ordinal).ToArray());
}

/// <summary>A file input.</summary>
public sealed record FileInput(string Name, string Path) : StageInput(Name)
{
    /// <summary>What to do when the file is missing, for a file another build makes (another dataset's export).</summary>
    public string? WhenMissing { get; init; }
}

/// <summary>A listing input: its hash is the hash of its sorted entries.</summary>
public sealed record ListingInput(string Name, IReadOnlyList<string> Entries) : StageInput(Name);
