using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Tests.TestSupport;

namespace Pipeline.Serving.Tests.Export;

public sealed class ModelCardTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _folder;

    public ModelCardTests() => _folder = Path.Combine(TinyExport.Write(_dir), "1");

    private string CardPath => Path.Combine(_folder, ModelCard.FileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Read_gives_back_the_card_that_was_written()
    {
        var written = new ModelCard("flowers", "resnet18", ["daisy", "rose", "tulip"], new(3, 8, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]),
            new JsonObject { ["accuracy"] = 0.875 }, new JsonObject { ["train"] = "abc" });
        TinyExport.WriteCard(_folder, written);

        var read = ModelCard.Read(_folder);

        Assert.Equal(("flowers", "resnet18"), (read.Dataset, read.Architecture));
        Assert.Equal(written.Classes, read.Classes);
        Assert.Equal((3, 8), (read.Input.Channels, read.Input.Size));
        Assert.Equal(written.Input.Mean, read.Input.Mean);
        Assert.Equal(written.Input.Std, read.Input.Std);
        Assert.Equal(0.875, read.Metrics["accuracy"]!.GetValue<double>());
        Assert.Equal("abc", read.Lineage["train"]!.GetValue<string>());
    }

    [Fact]
    public void Flip_at_inference_is_written_only_when_set_and_read_back()
    {
        var card = new ModelCard("fashion", "vgg7", ["a", "b"], new(1, 28, [0.3f], [0.35f]), [], [], Flip: true);
        TinyExport.WriteCard(_folder, card);
        Assert.True(ModelCard.Read(_folder).Flip);

        TinyExport.WriteCard(_folder, card with { Flip = false });
        Assert.False(ModelCard.Read(_folder).Flip);
        Assert.DoesNotContain("inference", File.ReadAllText(CardPath), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"yes\"")]
    [InlineData("{ \"flip\": 1 }")]
    public void Bad_inference_field_is_refused_naming_it(string inference)
    {
        Edit(json => json["inference"] = JsonNode.Parse(inference));

        var error = Assert.Throws<PipelineException>(() => ModelCard.Read(_folder));

        Assert.Equal(CardPath, error.Location);
        Assert.Contains("field \"inference\"", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Card_of_another_format_is_refused_naming_both_formats()
    {
        Edit(json => json["format"] = "pipeline-export/2");

        var error = Assert.Throws<PipelineException>(() => ModelCard.Read(_folder));

        Assert.Equal(CardPath, error.Location);
        Assert.Contains("format is \"pipeline-export/2\"", error.Problem, StringComparison.Ordinal);
        Assert.Contains($"reads \"{ModelCard.Format}\"", error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "field \"input\" is missing or not an object")]
    [InlineData("5", "field \"input\" is missing or not an object")]
    [InlineData("""["channels", 1]""", "field \"input\" is missing or not an object")]
    [InlineData("""{"channels": 2, "size": 4, "mean": [0], "std": [1]}""", "channels must be 1 (grayscale) or 3 (RGB)")]
    [InlineData("""{"channels": 1, "size": 0, "mean": [0], "std": [1]}""", "field \"input\"")]
    [InlineData("""{"channels": 1, "size": "4", "mean": [0], "std": [1]}""", "field \"input.size\" is missing or not an integer")]
    [InlineData("""{"channels": 1, "size": 4, "mean": [0, 0], "std": [1]}""", "2 mean values for 1 channels")]
    [InlineData("""{"channels": 1, "size": 4, "mean": [0], "std": [0]}""", "standard deviations must be positive")]
    [InlineData("""{"channels": 1, "size": 4, "mean": 0, "std": [1]}""", "field \"input.mean\" is missing or not a list of numbers")]
    [InlineData("""{"channels": 1, "size": 4, "mean": ["zero"], "std": [1]}""", "field \"input.mean\" is missing or not a list of numbers")]
    public void Bad_input_field_is_refused_naming_the_field(string? input, string expected)
    {
        Edit(json => json["input"] = input is null ? null : JsonNode.Parse(input));

        var error = Assert.Throws<PipelineException>(() => ModelCard.Read(_folder));

        Assert.Equal(CardPath, error.Location);
        Assert.Contains(expected, error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"classes": "dark"}""", "field \"classes\"")]
    [InlineData("""{"classes": ["dark", 1]}""", "field \"classes\"")]
    [InlineData("""{"dataset": 3}""", "field \"dataset\" is missing or not a string")]
    public void Bad_classes_or_names_are_refused_naming_the_field(string edit, string expected)
    {
        Edit(json =>
        {
            foreach (var (key, value) in JsonNode.Parse(edit)!.AsObject())
            {
                json[key] = value?.DeepClone();
            }
        });

        var error = Assert.Throws<PipelineException>(() => ModelCard.Read(_folder));

        Assert.Equal(CardPath, error.Location);
        Assert.Contains(expected, error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"format\": ", "not valid JSON")]
    [InlineData("null", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("\"pipeline-export/1\"", "not a JSON object")]
    public void File_that_is_not_a_json_object_is_refused_naming_it(string text, string expected)
    {
        File.WriteAllText(CardPath, text);

        var error = Assert.Throws<PipelineException>(() => ModelCard.Read(_folder));

        Assert.Equal(CardPath, error.Location);
        Assert.Contains(expected, error.Problem, StringComparison.Ordinal);
    }

    private void Edit(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(CardPath))!.AsObject();
        edit(json);
        File.WriteAllText(CardPath, json.ToJsonString());
    }
}
