using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Prediction;
using Pipeline.Serving.Tests.TestSupport;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Serving.Tests.Prediction;

public sealed class OnnxClassifierTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _export;
    private readonly OnnxClassifier _classifier;

    public OnnxClassifierTests()
    {
        _export = TinyExport.Write(_dir);
        _classifier = OnnxClassifier.Load(ExportedModel.Open(_export), threads: 1);
    }

    public void Dispose()
    {
        _classifier.Dispose();
        _dir.Dispose();
    }

    /// <summary>Request images by name, with the class the tiny model's weights give each.</summary>
    private static readonly Dictionary<string, (Func<byte[]> Image, int Class)> Images = new()
    {
        ["black 4×4 PNG"] = (() => TestImages.Black, TinyExport.Dark),
        ["white 4×4 PNG"] = (() => TestImages.White, TinyExport.Light),
        ["left-lit 4×4 PNG"] = (() => TestImages.LeftLitPng(), TinyExport.LeftLit),
        ["dark gray 4×4 PNG"] = (() => TestImages.GrayPng(60), TinyExport.Dark),
        ["light gray 4×4 PNG"] = (() => TestImages.GrayPng(200), TinyExport.Light),
        ["left-lit 40×24 PNG, resized"] = (() => TestImages.LeftLitPng(40, 24), TinyExport.LeftLit),
        ["white 32×32 RGB JPEG, resized and made gray"] = (() => TestImages.RgbJpeg(new Rgb24(255, 255, 255), 32, 32), TinyExport.Light),
        ["dark red 10×6 RGB JPEG, resized and made gray"] = (() => TestImages.RgbJpeg(new Rgb24(90, 10, 10), 10, 6), TinyExport.Dark),
    };

    public static TheoryData<string> ImageNames => [.. Images.Keys];

    [Fact]
    public void Load_opens_the_exported_version_with_its_card()
    {
        Assert.Equal(1, _classifier.Model.Version);
        Assert.Equal(Path.Combine(_export, "1"), _classifier.Model.Folder);
        Assert.Equal(TinyExport.Classes, _classifier.Card.Classes);
        Assert.True(_classifier.LoadTime > TimeSpan.Zero);
    }

    [Theory]
    [MemberData(nameof(ImageNames))]
    public void Predicts_the_class_the_weights_give_the_image(string name)
    {
        var (image, expected) = Images[name];

        var prediction = Assert.Single(_classifier.Predict([image()], [name]));

        Assert.Equal(expected, prediction.ClassId);
        Assert.Equal(TinyExport.Classes[expected], prediction.Label);
        Assert.Equal(TinyExport.Classes.Length, prediction.Probabilities.Length);
        Assert.All(prediction.Probabilities, p => Assert.True(float.IsFinite(p) && p is >= 0 and <= 1, $"probability {p}"));
        Assert.Equal(1.0, prediction.Probabilities.Sum(), 5);
        Assert.True(prediction.Probabilities[expected] > 0.9, $"the expected class has only {prediction.Probabilities[expected]}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(51)]
    [InlineData(255)]
    public void Probabilities_are_the_softmax_of_the_logits_of_pixels_divided_by_255(byte level)
    {
        // Every value is level/255 = v; the 16 values sum to 16v: logits 8 − 16v, 16v − 8 and 0 (both halves equal).
        var s = 16.0 * level / 255;
        double[] logits = [8 - s, s - 8, 0];
        var exp = logits.Select(Math.Exp).ToArray();

        var prediction = Assert.Single(_classifier.Predict([TestImages.GrayPng(level)], ["gray"]));

        for (var c = 0; c < logits.Length; c++)
        {
            Assert.Equal(exp[c] / exp.Sum(), prediction.Probabilities[c], 5);
        }
    }

    [Fact]
    public void Batch_gives_the_same_predictions_as_one_image_at_a_time()
    {
        var names = Images.Keys.ToList();
        var images = names.Select(n => (ReadOnlyMemory<byte>)Images[n].Image()).ToList();

        var batch = _classifier.Predict(images, names);
        var single = images.Select((image, i) => Assert.Single(_classifier.Predict([image], [names[i]]))).ToList();

        Assert.Equal(names.Select(n => Images[n].Class), batch.Select(p => p.ClassId));
        for (var i = 0; i < names.Count; i++)
        {
            Assert.Equal(single[i].ClassId, batch[i].ClassId);
            Assert.Equal(single[i].Label, batch[i].Label);
            for (var c = 0; c < TinyExport.Classes.Length; c++)
            {
                Assert.Equal(single[i].Probabilities[c], batch[i].Probabilities[c], 6);
            }
        }
    }

    [Fact]
    public void Concurrent_callers_each_get_the_answer_for_their_own_image()
    {
        var levels = Enumerable.Range(0, 64).Select(i => (byte)(i * 4)).Where(l => l is < 100 or > 156).ToList();

        var predictions = levels.AsParallel().AsOrdered().WithDegreeOfParallelism(8)
            .Select(level => Assert.Single(_classifier.Predict([TestImages.GrayPng(level)], [$"gray {level}"])))
            .ToList();

        for (var i = 0; i < levels.Count; i++)
        {
            Assert.Equal(levels[i] < 128 ? TinyExport.Dark : TinyExport.Light, predictions[i].ClassId);
            var s = 16.0 * levels[i] / 255;
            Assert.Equal(Math.Exp(s - 8) / (Math.Exp(8 - s) + Math.Exp(s - 8) + 1), predictions[i].Probabilities[TinyExport.Light], 5);
        }
    }

    [Theory]
    [InlineData("text", "not an image in a format we can read")]
    [InlineData("empty", "empty, not an image")]
    [InlineData("truncated PNG", "the image is truncated: the PNG ends before its IEND chunk")]
    public void Bytes_that_are_not_an_image_are_refused_naming_the_image(string kind, string expected)
    {
        var bytes = kind switch
        {
            "text" => "{\"not\": \"an image\"}"u8.ToArray(),
            "empty" => [],
            _ => TestImages.LeftLitPng(40, 24)[..60],
        };

        var error = Assert.Throws<BadImageException>(() => _classifier.Predict([TestImages.Black, bytes], ["black.png", "upload 2"]));

        Assert.Equal("upload 2", error.Location);
        Assert.StartsWith("upload 2: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_whose_header_declares_more_pixels_than_allowed_is_refused_before_decoding()
    {
        using var strict = OnnxClassifier.Load(ExportedModel.Open(_export), threads: 1, maxPixels: 10);

        var error = Assert.Throws<BadImageException>(() => strict.Predict([TestImages.Black], ["black.png"]));

        Assert.Equal("black.png", error.Location);
        Assert.Contains("image too large: 4×4 is more than the 10 pixels allowed", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_of_exactly_the_allowed_pixels_is_accepted()
    {
        using var strict = OnnxClassifier.Load(ExportedModel.Open(_export), threads: 1, maxPixels: 16);

        Assert.Equal(TinyExport.Light, Assert.Single(strict.Predict([TestImages.White], ["white.png"])).ClassId);
    }

    [Fact]
    public void Per_call_pixel_limit_refuses_images_the_loaded_limit_accepts()
    {
        var error = Assert.Throws<BadImageException>(() => _classifier.Predict([TestImages.White, TestImages.GrayPng(0, 5, 3)], ["a", "b"], maxPixels: 14));

        Assert.Equal("a", error.Location);
        Assert.Contains("4×4 is more than the 14 pixels allowed", error.Problem, StringComparison.Ordinal);
        Assert.Equal([TinyExport.Light, TinyExport.Dark], _classifier.Predict([TestImages.White, TestImages.GrayPng(0, 5, 3)], ["a", "b"], maxPixels: 16).Select(p => p.ClassId));
    }

    [Fact]
    public void Per_call_pixel_limit_cannot_loosen_the_loaded_limit()
    {
        using var strict = OnnxClassifier.Load(ExportedModel.Open(_export), threads: 1, maxPixels: 10);

        var error = Assert.Throws<BadImageException>(() => strict.Predict([TestImages.Black], ["black.png"], maxPixels: 1_000_000));

        Assert.Contains("more than the 10 pixels allowed", error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("graph 5×5", "[batch, 1, 4, 4]", 3)]
    [InlineData("graph RGB", "[batch, 1, 4, 4]", 3)]
    [InlineData("card 4 classes", "[batch, 4]", 4)]
    public void Graph_that_disagrees_with_the_card_is_refused_at_load(string mismatch, string expected, int classes)
    {
        var version = Path.Combine(_export, "1");
        switch (mismatch)
        {
            case "graph 5×5":
                File.WriteAllBytes(Path.Combine(version, ModelCard.OnnxFile), TinyExport.Onnx(channels: 1, size: 5));
                break;
            case "graph RGB":
                File.WriteAllBytes(Path.Combine(version, ModelCard.OnnxFile), TinyExport.Onnx(channels: 3));
                break;
            default:
                string[] names = [.. TinyExport.Classes, "extra"];
                TinyExport.WriteCard(version, TinyExport.Card(classes: names));
                File.WriteAllLines(Path.Combine(version, ModelCard.LabelsFile), names);
                break;
        }
        var model = ExportedModel.Open(_export);
        Assert.Equal(classes, model.Card.Classes.Count);

        var error = Assert.Throws<PipelineException>(() => OnnxClassifier.Load(model));

        Assert.Equal(model.OnnxPath, error.Location);
        Assert.Contains("the graph does not read \"input\"", error.Problem, StringComparison.Ordinal);
        Assert.Contains(expected, error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Onnx_file_that_is_not_a_model_is_refused_at_load_naming_it()
    {
        File.WriteAllText(Path.Combine(_export, "1", ModelCard.OnnxFile), "not a protobuf model");
        var model = ExportedModel.Open(_export);

        var error = Assert.Throws<PipelineException>(() => OnnxClassifier.Load(model));

        Assert.Equal(model.OnnxPath, error.Location);
        Assert.Contains("ONNX Runtime cannot load the model", error.Problem, StringComparison.Ordinal);
    }
}
