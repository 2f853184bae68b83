using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.TestSupport;

/// <summary>Small datasets written in code: IDX files, JPEGs with CSV manifests, class folders.</summary>
internal static class TestDatasets
{
    public static readonly string[] ClassNames = ["circle", "square", "triangle"];

    /// <summary>Writes an IDX image file and label file; image i is filled with the value 10·i and labelled i mod 3.</summary>
    public static void WriteIdx(string imagesPath, string labelsPath, int count, int side = 4, bool gzip = true)
    {
        var pixels = new byte[count * side * side];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            pixels.AsSpan(i * side * side, side * side).Fill((byte)(10 * i));
            labels[i] = (byte)(i % 3);
        }
        Write(imagesPath, IdxBytes.Idx([count, side, side], pixels), gzip);
        Write(labelsPath, IdxBytes.Idx([count], labels), gzip);
    }

    /// <summary>A repository-shaped folder holding datasets/NAME/dataset.json over a small IDX source.</summary>
    public static string IdxDataset(TempDirectory dir, string name = "tiny", int train = 30, int test = 9, string records = """{ "shards": { "train": 2 } }""")
    {
        WriteIdx(dir.Combine($"data/{name}/train-images-idx3-ubyte.gz"), dir.Combine($"data/{name}/train-labels-idx1-ubyte.gz"), train);
        WriteIdx(dir.Combine($"data/{name}/t10k-images-idx3-ubyte.gz"), dir.Combine($"data/{name}/t10k-labels-idx1-ubyte.gz"), test);
        dir.WriteText($"datasets/{name}/dataset.json", $$"""
            {
              "name": "{{name}}",
              "source": {
                "kind": "idx",
                "splits": {
                  "train": { "images": "../../data/{{name}}/train-images-idx3-ubyte.gz", "labels": "../../data/{{name}}/train-labels-idx1-ubyte.gz" },
                  "test": { "images": "../../data/{{name}}/t10k-images-idx3-ubyte.gz", "labels": "../../data/{{name}}/t10k-labels-idx1-ubyte.gz" }
                },
                "class_names": ["circle", "square", "triangle"]
              },
              "records": {{records}}
            }
            """);
        return name;
    }

    /// <summary>A baseline RGB JPEG of one colour.</summary>
    public static byte[] Jpeg(int width, int height, byte red, byte green, byte blue)
    {
        using var image = new Image<Rgb24>(width, height, new Rgb24(red, green, blue));
        using var buffer = new MemoryStream();
        image.SaveAsJpeg(buffer);
        return buffer.ToArray();
    }

    /// <summary>A PNG with an alpha channel, which must become a JPEG in the records.</summary>
    public static byte[] Png(int width, int height)
    {
        using var image = new Image<Rgba32>(width, height, new Rgba32(0, 128, 255, 200));
        using var buffer = new MemoryStream();
        image.SaveAsPng(buffer);
        return buffer.ToArray();
    }

    /// <summary>A CSV dataset: images/&lt;label&gt;_&lt;i&gt;.jpg listed in train_set.csv and eval_set.csv.</summary>
    public static string CsvDataset(TempDirectory dir, string name = "shapes", int perClass = 4, string extra = "")
    {
        var train = new List<string> { "image,label" };
        var eval = new List<string>();
        for (var c = 0; c < ClassNames.Length; c++)
        {
            for (var i = 0; i < perClass; i++)
            {
                var file = $"images/{ClassNames[c]}_{i}.jpg";
                dir.WriteBytes($"datasets/{name}/{file}", Jpeg(8 + i, 8, (byte)(80 * c), (byte)(20 * i), 100));
                (i == 0 ? eval : train).Add($"{file},{ClassNames[c]}");
            }
        }
        dir.WriteText($"datasets/{name}/train_set.csv", string.Join("\n", train) + "\n");
        dir.WriteText($"datasets/{name}/eval_set.csv", string.Join("\n", eval) + "\n");
        dir.WriteText($"datasets/{name}/dataset.json", $$"""
            {
              "name": "{{name}}",
              "source": { "kind": "csv", "splits": { "train": "train_set.csv", "validation": "eval_set.csv" } }{{extra}}
            }
            """);
        return name;
    }

    private static void Write(string path, byte[] bytes, bool gzip) =>
        File.WriteAllBytes(path, gzip ? IdxBytes.Gzip(bytes) : bytes);
}
