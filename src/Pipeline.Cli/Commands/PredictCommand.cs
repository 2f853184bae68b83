using System.CommandLine;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Serving.Export;
using Pipeline.Serving.Prediction;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline predict --model EXPORT IMAGE...`: TensorFlow for Poets' label_image, on an exported model.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = ModelOption();
        var images = new Argument<string[]>("images") { Description = "Image files (JPEG, PNG, GIF, BMP, TIFF, WebP)", Arity = ArgumentArity.OneOrMore };
        var top = new Option<int>("--top") { Description = "How many classes to print per image", DefaultValueFactory = _ => 5 };
        var command = new Command("predict", "Print the most probable classes of each image, as label_image does: `daisy (score=0.99234)`") { model, images, top };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var count = parse.GetValue(top);
            if (count < 1)
            {
                throw new PipelineException($"--top is {count}; ask for at least 1 class");
            }
            using var classifier = OnnxClassifier.Load(ExportedModel.Open(parse.GetValue(model)!));
            var files = parse.GetValue(images)!;
            var failed = 0;
            foreach (var file in files)
            {
                // One bad image is reported and the others are still predicted.
                try
                {
                    var prediction = classifier.Predict([File.ReadAllBytes(file)], [file])[0];
                    Console.WriteLine(Format(file, prediction, classifier.Card.Classes, count, files.Length > 1));
                }
                catch (Exception e) when (e is BadImageException or IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"error: {(e is BadImageException ? e.Message : $"{file}: {e.Message}")}");
                    failed++;
                }
            }
            return failed == 0 ? 0 : 1;
        }));
        return command;
    }

    public static Option<string> ModelOption() => new("--model", "-m")
    {
        Description = "An export folder (artifacts/DATASET/export: its latest version), its `latest` file, or a version folder",
        Required = true,
    };

    /// <summary>label_image's lines; with several images, each image's name and then its lines indented.</summary>
    private static string Format(string file, Prediction prediction, IReadOnlyList<string> classes, int top, bool header)
    {
        var lines = prediction.ScoreLines(classes, top);
        return string.Join('\n', header ? lines.Select(l => "  " + l).Prepend(file) : lines);
    }
}
