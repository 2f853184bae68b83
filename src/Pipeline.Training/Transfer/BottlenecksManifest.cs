using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Training.Transfer;

/// <summary>
/// bottlenecks/manifest.json: which backbone computed the bottlenecks, what it reads (the input a transferred model
/// is then served with), the values per image, and the examples of each split.
/// </summary>
public sealed record BottlenecksManifest(string Backbone, InputSpec Input, int Dimension, IReadOnlyDictionary<string, int> Splits)
{
    // The extra newline after the canonical text is how the file has always ended; its bytes are an output's hash.
    public void Write(string path) => File.WriteAllText(path, ManifestJson.Text(Contents.From(this)) + "\n");

    /// <exception cref="PipelineException">Missing or not a manifest this stage wrote.</exception>
    public static BottlenecksManifest Read(string path) =>
        ManifestJson.Read<Contents>(path, "the bottlenecks' manifest", "rebuild with --target=Bottlenecks --force").ToManifest();

    /// <summary>The file's shape.</summary>
    private sealed record Contents(string Backbone, ContentsInput Input, int Dimension, IReadOnlyDictionary<string, int> Splits)
    {
        public static Contents From(BottlenecksManifest m) =>
            new(m.Backbone, new ContentsInput(m.Input.Channels, m.Input.Size, m.Input.Mean, m.Input.Std), m.Dimension, m.Splits);

        public BottlenecksManifest ToManifest() => new(Backbone, new InputSpec(Input.Channels, Input.Size, Input.Mean, Input.Std), Dimension, Splits);
    }

    /// <summary>The backbone's input, in single precision as the model reads it (written as the shortest text of each float).</summary>
    private sealed record ContentsInput(int Channels, int Size, float[] Mean, float[] Std);
}
