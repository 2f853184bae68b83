using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;

namespace Pipeline.Training.Transfer;

/// <summary>
/// The ImageNet-trained ResNet-18 that transfer learning starts from, as ML.NET ships it in the package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT): ResNetPreprocess.onnx (RGB to BGR, mean-image
/// subtraction on 0..255 pixels) then ResNet18.onnx up to its 512-value average pool, the "bottleneck". Restore
/// brings the package (a PackageDownload of Pipeline.Training); this class finds it in the NuGet packages folder and
/// refuses files whose SHA-256 is not the one pinned here. Run by ONNX Runtime; thread-safe.
/// </summary>
public sealed class ImageNetResNet18 : IDisposable
{
    public const string PackageId = "microsoft.ml.dnnimagefeaturizer.resnet18";
    public const string PackageVersion = "0.23.1";
    public const int Size = 224;
    public const int BottleneckSize = 512;

    private const string PreprocessFile = "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx";
    private const string BackboneFile = "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx";
    private const string PreprocessSha256 = "84bf8def78d0befaa3f6e73745d57d7016c6a192ead76f79686bd438c1047004";
    private const string BackboneSha256 = "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f";

    private readonly InferenceSession _preprocess;
    private readonly InferenceSession _backbone;

    private ImageNetResNet18(InferenceSession preprocess, InferenceSession backbone)
    {
        _preprocess = preprocess;
        _backbone = backbone;
    }

    /// <summary>What the backbone reads: RGB 224×224, values 0..255 (mean 0, std 1/255 in our normalization's terms).</summary>
    public static InputSpec Input { get; } = new(3, Size, [0f], [1f / 255f]);

    /// <summary>Names the backbone for fingerprints: its files' pinned hashes.</summary>
    public static string Fingerprint => ContentHash.OfText($"{PackageId}/{PackageVersion}:{PreprocessSha256}:{BackboneSha256}");

    /// <summary>The NuGet packages folder: $NUGET_PACKAGES, else ~/.nuget/packages, as NuGet itself decides.</summary>
    public static string PackagesFolder =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <param name="packagesFolder">Where to look instead of <see cref="PackagesFolder"/>.</param>
    /// <param name="threads">ONNX Runtime threads per run; 0 lets it choose.</param>
    /// <exception cref="PipelineException">The package is not restored, or a file is not the one pinned.</exception>
    public static ImageNetResNet18 Open(string? packagesFolder = null, int threads = 0)
    {
        var root = Path.Combine(packagesFolder ?? PackagesFolder, PackageId, PackageVersion);
        var preprocess = Checked(Path.Combine(root, PreprocessFile), PreprocessSha256);
        var backbone = Checked(Path.Combine(root, BackboneFile), BackboneSha256);
        using var options = new SessionOptions { IntraOpNumThreads = threads, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        return new ImageNetResNet18(new InferenceSession(preprocess, options), new InferenceSession(backbone, options));
    }

    /// <summary>The 512 bottleneck values of one image: 3 × 224 × 224 floats, RGB planes, values 0..255.</summary>
    public float[] Bottleneck(float[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Length != Input.ValuesPerImage)
        {
            throw new ArgumentException($"{image.Length} values; the backbone reads {Input.ValuesPerImage} (3 × {Size} × {Size})", nameof(image));
        }
        long[] shape = [1, 3, Size, Size];
        using var runOptions = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(image, shape);
        using var prepared = _preprocess.Run(runOptions, ["OriginalInput"], [input], ["PreprocessedInput"]);
        using var features = _backbone.Run(runOptions, ["Input247"], [prepared[0]], ["Pooling395_Output_0"]);
        return features[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        _preprocess.Dispose();
        _backbone.Dispose();
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
