using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Training.Tests.TestSupport;

/// <summary>
/// A small learnable dataset made in code: 16×16 grayscale images of a horizontal bar, a vertical bar or a
/// diagonal, at random positions with a little noise, as IDX files with a dataset.json that trains a cnn on them.
/// </summary>
internal static class ShapesDataset
{
    public static readonly string[] Classes = ["diagonal", "horizontal", "vertical"];
    private const int Side = 16;

    /// <param name="sections">More top-level sections of dataset.json, e.g. <c>"export": { "min_accuracy": 0.5 },</c></param>
    public static string Write(TempDirectory dir, string name = "shapes", int train = 240, int test = 90, string sections = "")
    {
        WriteSplit(dir.Combine($"data/{name}/train-images"), dir.Combine($"data/{name}/train-labels"), train, seed: 1);
        WriteSplit(dir.Combine($"data/{name}/test-images"), dir.Combine($"data/{name}/test-labels"), test, seed: 2);
        dir.WriteText($"datasets/{name}/dataset.json", $$"""
            {
              "name": "{{name}}",
              "source": {
                "kind": "idx",
                "splits": {
                  "train": { "images": "../../data/{{name}}/train-images", "labels": "../../data/{{name}}/train-labels" },
                  "test": { "images": "../../data/{{name}}/test-images", "labels": "../../data/{{name}}/test-labels" }
                },
                "class_names": ["diagonal", "horizontal", "vertical"]
              },
              "records": { "shards": { "train": 2 } },
              "train": {
                "model": "cnn", "input_size": 16, "batch_size": 16, "train_steps": 60, "steps_per_eval": 20,
                "learning_rate": { "base": 0.003, "schedule": "cosine" }, "threads": 1, "shuffle_buffer": 64,
                "normalization": { "mean": [0.2], "std": [0.35] }
              },
              {{sections}}
              "evaluate": { "batch_size": 32 }
            }
            """);
        return name;
    }

    /// <summary>
    /// The same shapes as a transfer dataset: the ImageNet ResNet-18 frozen and a head trained on its bottlenecks, from
    /// the first <paramref name="perClass"/> train images of each class; the test split takes <paramref name="testPerClass"/>.
    /// </summary>
    /// <param name="transfer">More keys of the transfer section, e.g. <c>"train_steps": 300,</c></param>
    /// <param name="from">transfer.from: the ImageNet backbone, or "dataset:NAME".</param>
    public static string WriteTransfer(TempDirectory dir, int perClass, int testPerClass = 3, string transfer = "", string sections = "", string name = "shapes-transfer",
        string from = "imagenet-resnet18")
    {
        if (!File.Exists(dir.Combine($"data/{name}/train-images")))
        {
            WriteSplit(dir.Combine($"data/{name}/train-images"), dir.Combine($"data/{name}/train-labels"), 60, seed: 1);
            WriteSplit(dir.Combine($"data/{name}/test-images"), dir.Combine($"data/{name}/test-labels"), 30, seed: 2);
        }
        dir.WriteText($"datasets/{name}/dataset.json", $$"""
            {
              "name": "{{name}}",
              "source": {
                "kind": "idx",
                "splits": {
                  "train": { "images": "../../data/{{name}}/train-images", "labels": "../../data/{{name}}/train-labels", "per_class": {{perClass}} },
                  "test": { "images": "../../data/{{name}}/test-images", "labels": "../../data/{{name}}/test-labels", "per_class": {{testPerClass}} }
                },
                "class_names": ["diagonal", "horizontal", "vertical"]
              },
              "transfer": { {{transfer}} "from": "{{from}}", "train_steps": 100, "batch_size": 8, "steps_per_eval": 50, "threads": 1 },
              {{sections}}
              "evaluate": { "batch_size": 32 }
            }
            """);
        return name;
    }

    /// <summary>The images of a split, as the IDX file holds them (count × 16 × 16 bytes).</summary>
    public static string ImagesPath(TempDirectory dir, string name, string split) => dir.Combine($"data/{name}/{split}-images");

    /// <summary>A 16×16 PNG of the class <paramref name="label"/> (0 diagonal, 1 horizontal, 2 vertical), drawn as the dataset draws them.</summary>
    public static byte[] Png(int label)
    {
        var pixels = new byte[Side * Side];
        for (var t = 2; t < Side - 2; t++)
        {
            var (x, y) = label switch
            {
                0 => (t, t),
                1 => (t, Side / 2),
                _ => (Side / 2, t),
            };
            pixels[y * Side + x] = 255;
        }
        return Pipeline.Core.Images.GrayPngWriter.Encode(pixels, Side, Side);
    }

    private static void WriteSplit(string imagesPath, string labelsPath, int count, int seed)
    {
        var random = new Random(seed);
        var images = new byte[count * Side * Side];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var label = i % 3;
            labels[i] = (byte)label;
            var pixels = images.AsSpan(i * Side * Side, Side * Side);
            for (var p = 0; p < pixels.Length; p++)
            {
                pixels[p] = (byte)random.Next(0, 40);
            }
            var at = random.Next(3, Side - 3);
            var from = random.Next(0, 4);
            var to = random.Next(Side - 4, Side);
            for (var t = from; t < to; t++)
            {
                var (x, y) = label switch
                {
                    0 => (t, t),
                    1 => (t, at),
                    _ => (at, t),
                };
                pixels[y * Side + x] = 255;
            }
        }
        File.WriteAllBytes(imagesPath, IdxBytes.Idx([count, Side, Side], images));
        File.WriteAllBytes(labelsPath, IdxBytes.Idx([count], labels));
    }
}
