namespace Pipeline.Core.Datasets;

/// <summary>One labelled image as the source lists it, before it is read.</summary>
/// <param name="Split">"train", "validation", "test", …</param>
/// <param name="Label">The label text (for IDX sources, the class name).</param>
/// <param name="Origin">Where it was listed, for error messages: "datasets/x/train.csv:214", "train-images-idx3-ubyte.gz: image 42".</param>
/// <param name="Image">How to get the image's bytes or pixels.</param>
public sealed record SourceExample(string Split, string Label, string Origin, ImageRef Image);

/// <summary>Where an example's image is.</summary>
public abstract record ImageRef
{
    /// <summary>The base file name written to image/filename.</summary>
    public abstract string FileName { get; }
}

/// <summary>An encoded image file: a local path, or an http(s)/gs URL fetched through the download cache.</summary>
public sealed record FileImageRef(string Location) : ImageRef
{
    public override string FileName => Path.GetFileName(Location.Split('?', '#')[0]);

    public bool IsRemote => Location.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || Location.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || Location.StartsWith("gs://", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Raw 8-bit grayscale pixels inside an IDX file already in memory.</summary>
public sealed record PixelImageRef(string Name, ReadOnlyMemory<byte> Pixels, int Width, int Height) : ImageRef
{
    public override string FileName => Name;
}
