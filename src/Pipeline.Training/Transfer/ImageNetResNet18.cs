using System.Security.Cryptography;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Onnx;
using Pipeline.Core.Onnx.Proto;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The ImageNet-trained ResNet-18 that transfer learning starts from, as ML.NET ships it in the package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT): ResNetPreprocess.onnx (RGB to BGR, mean-image
/// subtraction on 0..255 pixels) then ResNet18.onnx up to its 512-value average pool, the "bottleneck". Restore
/// brings the package (a PackageDownload of Pipeline.Training); this class finds it in the NuGet packages folder and
/// refuses files whose SHA-256 is not the one pinned here.
/// </summary>
/// <remarks>
/// The two files are joined into one graph with <see cref="OnnxGraph.Append"/>, carried to our opset, with the batch
/// left free: an <see cref="OnnxBackbone"/>, so the bottlenecks are computed by exactly the graph an export then ends
/// with a head.
/// </remarks>
public static class ImageNetResNet18
{
    public const string PackageId = "microsoft.ml.dnnimagefeaturizer.resnet18";
    public const string PackageVersion = "0.23.1";
    public const int Size = 224;
    public const int BottleneckSize = 512;

    private const string PreprocessFile = "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";
    private const string BackboneFile = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";
    private const string PreprocessSha256 = "84bf8def78d0befaa3f6e73745d57d7016c6a192ead76f79686bd438c1047004";
    private const string BackboneSha256 = "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f";

    /// <summary>What the backbone reads: RGB 224×224, values 0..255 (mean 0, std 1/255 in our normalization's terms).</summary>
    public static InputSpec Input { get; } = new(3, Size, [0f], [1f / 255f]);

    /// <summary>Names the backbone for fingerprints: its files' pinned hashes.</summary>
    public static string Fingerprint => ContentHash.OfText($"{PackageId}/{PackageVersion}:{PreprocessSha256}:{BackboneSha256}");

    /// <summary>The NuGet packages folder: $NUGET_PACKAGES, else ~/.nuget/packages, as NuGet itself decides.</summary>
    public static string PackagesFolder =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The backbone, ready to compute bottlenecks or be appended to a head's graph.</summary>
    /// <param name="packagesFolder">Where to look instead of <see cref="PackagesFolder"/>.</param>
    /// <param name="threads">ONNX Runtime threads per run; 0 lets it choose (one per core).</param>
    /// <exception cref="PipelineException">The package is not restored, or a file is not the one pinned.</exception>
    public static OnnxBackbone Open(string? packagesFolder = null, int threads = 0)
    {
        // The files are read and checked here, so a missing or altered one is reported before any work.
        return new OnnxBackbone(Core.Datasets.BackboneSource.ImageNet.Name, Input, BottleneckSize,
            (graph, input) => AppendTo(graph, input, packagesFolder), threads);
    }

    /// <summary>Where the package's files are looked for.</summary>
    public static string Folder(string? packagesFolder = null) => PackageFolder(packagesFolder);

    /// <summary>
    /// Appends preprocessing and the backbone to <paramref name="graph"/>, reading <paramref name="input"/> [batch, 3,
    /// 224, 224] (RGB, 0..255), and returns the bottleneck's name [batch, 512].
    /// </summary>
    /// <exception cref="PipelineException">The package is not restored, a file is not the one pinned, or it is not the graph expected.</exception>
    private static string AppendTo(OnnxGraph graph, string input, string? packagesFolder)
    {
        var root = PackageFolder(packagesFolder);
        var preprocessPath = Checked(Path.Combine(root, PreprocessFile), PreprocessSha256);
        var backbonePath = Checked(Path.Combine(root, BackboneFile), BackboneSha256);
        var preprocessed = Append(graph, preprocessPath, "preprocess/", input, "OriginalInput", "PreprocessedInput");
        var pooled = Append(graph, backbonePath, "resnet18/", preprocessed, "Input247", "Pooling395_Output_0");
        return graph.Node("Flatten", [pooled], "resnet18/bottleneck", OnnxGraph.Int("axis", 1));
    }

    private static string PackageFolder(string? packagesFolder) => Path.Combine(packagesFolder ?? PackagesFolder, PackageId, PackageVersion);

    /// <summary>Appends one of the package's graphs, bound to <paramref name="from"/>, and returns its one output.</summary>
    private static string Append(OnnxGraph graph, string path, string prefix, string from, string expectedInput, string expectedOutput)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new PipelineException($"not an ONNX model ({e.Message})", path, e);
        }
        var outputs = model.Graph?.Output.Select(o => o.Name).ToList() ?? [];
        if (outputs.Count != 1 || outputs[0] != expectedOutput)
        {
            throw new PipelineException($"the graph answers [{string.Join(", ", outputs)}], not the one output {expectedOutput} this pipeline reads", path);
        }
        try
        {
            return graph.Append(model, prefix, new Dictionary<string, string> { [expectedInput] = from })[0];
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidDataException)
        {
            throw new PipelineException($"cannot be joined into the model: {e.Message}", path, e);
        }
    }

    private static string Checked(string path, string expected)
    {
        if (!File.Exists(path))
        {
            throw new PipelineException(
                $"the ImageNet ResNet-18 is not restored: restore brings it as the package {PackageId} {PackageVersion} "
                + "(./build.sh does; or dotnet restore src/Pipeline.Training)", path);
        }
        string actual;
        using (var stream = File.OpenRead(path))
        {
            actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        if (actual != expected)
        {
            throw new PipelineException(
                $"altered or damaged: SHA-256 {actual}, but {PackageId} {PackageVersion} ships {expected}; delete {Path.Combine(PackagesFolder, PackageId, PackageVersion)} and restore again",
                path);
        }
        return path;
    }
}
