using System.Globalization;
using System.Runtime.CompilerServices;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Transfer;

namespace Pipeline.Training.Tests.Transfer;

public sealed class ImageNetResNet18Tests
{
    /// <summary>A fixed image drawn in code: red rises left to right, green top to bottom, blue in diagonal stripes.</summary>
    private static float[] Gradient()
    {
        const int size = ImageNetResNet18.Size;
        var image = new float[3 * size * size];
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var i = y * size + x;
                image[i] = x * 255f / (size - 1);
                image[size * size + i] = y * 255f / (size - 1);
                image[2 * size * size + i] = (x + y) * 3 % 256;
            }
        }
        return image;
    }

    private static string ReferencePath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "imagenet-resnet18-gradient.bottleneck.txt");

    [Fact]
    public void The_bottleneck_of_a_fixed_image_matches_the_committed_reference()
    {
        using var backbone = ImageNetResNet18.Open(threads: 1);

        var bottleneck = backbone.Bottleneck(Gradient());

        Assert.Equal(ImageNetResNet18.BottleneckSize, bottleneck.Length);
        var path = ReferencePath();
        if (Environment.GetEnvironmentVariable("UPDATE_REFERENCES") == "1")
        {
            File.WriteAllLines(path, bottleneck.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        }
        var reference = File.ReadAllLines(path).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(reference.Length, bottleneck.Length);
        var worst = reference.Zip(bottleneck, (r, b) => Math.Abs(r - b) / Math.Max(1, Math.Abs(r))).Max();
        Assert.True(worst <= 1e-4, $"largest relative difference {worst}");
        // A real network's features, not a constant: they vary across the 512 values.
        Assert.True(bottleneck.Max() - bottleneck.Min() > 0.1);
    }

    [Fact]
    public void A_batch_gives_each_image_the_bottleneck_it_has_alone_bit_for_bit()
    {
        // The cache stores bottlenecks computed in batches of whatever images were missing: a value must not depend on its batch.
        using var backbone = ImageNetResNet18.Open(threads: 2);
        var first = Gradient();
        var second = first.Reverse().ToArray();

        var batch = backbone.Bottlenecks([.. first, .. second], 2);

        Assert.Equal(backbone.Bottleneck(first), batch[..ImageNetResNet18.BottleneckSize]);
        Assert.Equal(backbone.Bottleneck(second), batch[ImageNetResNet18.BottleneckSize..]);
        Assert.NotEqual(batch[..ImageNetResNet18.BottleneckSize], batch[ImageNetResNet18.BottleneckSize..]);
    }

    [Fact]
    public void An_altered_model_file_is_refused_naming_it_and_both_hashes()
    {
        using var dir = new TempDirectory();
        var source = Path.Combine(ImageNetResNet18.PackagesFolder, ImageNetResNet18.PackageId, ImageNetResNet18.PackageVersion, "tools");
        foreach (var file in Directory.GetFiles(source, "*.onnx", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dir.Path, ImageNetResNet18.PackageId, ImageNetResNet18.PackageVersion, "tools", Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var preprocess = Directory.GetFiles(dir.Path, "ResNetPreprocess.onnx", SearchOption.AllDirectories).Single();
        File.AppendAllText(preprocess, " ");

        var error = Assert.Throws<PipelineException>(() => ImageNetResNet18.Open(dir.Path));

        Assert.Equal(preprocess, error.Location);
        Assert.Contains("altered or damaged: SHA-256 ", error.Message);
        Assert.Contains("ships 84bf8def78d0befaa3f6e73745d57d7016c6a192ead76f79686bd438c1047004", error.Message);
    }

    [Fact]
    public void A_package_that_is_not_restored_says_how_to_get_it()
    {
        using var dir = new TempDirectory();

        var error = Assert.Throws<PipelineException>(() => ImageNetResNet18.Open(dir.Path));

        Assert.Contains("is not restored", error.Message);
        Assert.Contains("./build.sh does", error.Message);
    }
}
