using Pipeline.Serving.Export;
using Pipeline.Serving.Prediction;

// The model the build copied beside the app: models/fashion-mnist/latest and its version folder.
var folder = Path.Combine(AppContext.BaseDirectory, "models", "fashion-mnist");
using var classifier = OnnxClassifier.Load(ExportedModel.Open(folder));
Console.WriteLine($"fashion-mnist version {classifier.Model.Version} ({classifier.Card.Architecture}, test accuracy {classifier.Card.Metrics["accuracy"]})");
foreach (var file in args)
{
    var prediction = classifier.Predict([File.ReadAllBytes(file)], [file])[0];
    Console.WriteLine($"{file}: {prediction.Label} ({prediction.Probabilities[prediction.ClassId]:0.000})");
}
