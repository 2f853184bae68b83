using System.Text.Json;
using Json.Schema;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Datasets;

/// <summary>datasets/dataset.schema.json against the loader: generated from the same records, and judging files alike.</summary>
public sealed class DatasetSchemaTests : IDisposable
{
    private static readonly string SchemaPath = Path.Combine(Repository.Root, "datasets", DatasetSchema.FileName);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> ShippedDatasets() =>
        [.. Directory.GetDirectories(Path.Combine(Repository.Root, "datasets")).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal)];

    [Fact]
    public void The_shipped_schema_is_the_one_the_typed_parameters_generate()
    {
        Assert.True(File.ReadAllText(SchemaPath) == DatasetSchema.Text(),
            $"{SchemaPath} is out of date with the parameter records; regenerate it: build/.bin/pipeline schema --output datasets/{DatasetSchema.FileName}");
    }

    [Theory]
    [MemberData(nameof(ShippedDatasets))]
    public void A_shipped_dataset_points_at_the_schema_validates_against_it_and_loads(string name)
    {
        var path = Path.Combine(Repository.Root, "datasets", name, DatasetLoader.FileName);
        var json = Parse(File.ReadAllText(path));

        Assert.Equal($"../{DatasetSchema.FileName}", json.TryGetProperty(DatasetSchema.SchemaKey, out var schema) ? schema.GetString() : null);
        var result = Schema().Evaluate(json, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, Errors(result));
        Assert.Equal(name, DatasetLoader.Load(path).Name);
    }

    [Theory]
    [InlineData("\"trian\": {}")]
    [InlineData("\"train\": { \"batchsize\": 64 }")]
    [InlineData("\"train\": { \"batch_size\": \"big\" }")]
    [InlineData("\"train\": { \"model\": \"resnet9000\" }")]
    [InlineData("\"train\": { \"optimizer\": { \"name\": \"adamx\" } }")]
    [InlineData("\"train\": { \"learning_rate\": { \"schedule\": \"cosinus\" } }")]
    [InlineData("\"records\": { \"on_bad_image\": \"ignore\" }")]
    [InlineData("\"source\": { \"kind\": \"csv\", \"splits\": { \"train\": \"t.csv\" }, \"root\": \"/photos\" }")]
    [InlineData("\"transfer\": { \"from\": \"imagenet-resnet18\", \"architecture\": \"vgg\" }")]
    public void A_file_the_schema_refuses_the_loader_refuses_too(string entry)
    {
        var text = $$"""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, {{entry}} }""";
        if (entry.StartsWith("\"source\"", StringComparison.Ordinal))
        {
            text = $$"""{ "name": "x", {{entry}} }""";
        }

        var result = Schema().Evaluate(Parse(text), new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.False(result.IsValid, "the schema accepts " + text);
        Assert.Throws<PipelineException>(() => DatasetLoader.Load(_dir.WriteText("d/dataset.json", text)));
    }

    [Fact]
    public void Keys_carry_their_documentation_for_editors()
    {
        var train = DatasetSchema.Generate()["properties"]!["train"]!;

        Assert.Contains("Total optimizer steps", train["properties"]!["train_steps"]!["description"]!.GetValue<string>());
    }

    private static JsonSchema Schema() => JsonSchema.FromText(File.ReadAllText(SchemaPath));

    private static JsonElement Parse(string text) =>
        JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }).RootElement;

    private static string Errors(EvaluationResults result) =>
        string.Join("\n", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
}
