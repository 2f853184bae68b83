using System.Text.Json.Serialization;

namespace Pipeline.Core.Datasets;

/// <summary>Where a dataset's images and labels come from; "kind" picks one of the derived records.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(IdxSourceDefinition), "idx")]
[JsonDerivedType(typeof(CsvSourceDefinition), "csv")]
[JsonDerivedType(typeof(FoldersSourceDefinition), "folders")]
public abstract record SourceDefinition;

/// <summary>MNIST-format IDX files (gzipped or not), one images/labels pair per split.</summary>
public sealed record IdxSourceDefinition : SourceDefinition
{
    public required IReadOnlyDictionary<string, IdxSplit> Splits { get; init; }

    /// <summary>Label text for each class index stored in the labels file.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
}

/// <summary>One split of an IDX source.</summary>
public sealed record IdxSplit
{
    public required string Images { get; init; }

    public required string Labels { get; init; }

    /// <summary>
    /// Take at most this many images of each class, the first in file order (after <see cref="SkipPerClass"/>): a
    /// few-shot subset that grows without moving the images it already holds. Null takes them all.
    /// </summary>
    public int? PerClass { get; init; }

    /// <summary>Pass over the first this-many images of each class before taking any: two splits cut from one file stay apart.</summary>
    public int SkipPerClass { get; init; }
}

/// <summary>The reference lab's manifests: one "image,label" CSV per split.</summary>
public sealed record CsvSourceDefinition : SourceDefinition
{
    public required IReadOnlyDictionary<string, string> Splits { get; init; }
}

/// <summary>One folder per class (flower_photos/daisy/*.jpg); splits chosen by a stable hash of each path.</summary>
public sealed record FoldersSourceDefinition : SourceDefinition
{
    public required string Root { get; init; }

    public double ValidationPercent { get; init; } = 10;

    public double TestPercent { get; init; }

    public IReadOnlyList<string> Extensions { get; init; } = [".jpg", ".jpeg", ".png", ".bmp", ".gif"];
}
