using System.Text;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Datasets;

/// <summary>--set FIELD=VALUE: parsed, applied to dataset.json's text, and checked as the file is, with errors naming the override.</summary>
public sealed class DatasetOverrideTests : IDisposable
{
    private const string File = """
        {
          "name": "x",
          // the source
          "source": { "kind": "csv", "splits": { "train": "t.csv", "test": "e.csv" } },
          "records": { "shards": { "train": 4 } },
          "train": {
            "model": "cnn",
            "learning_rate": { "base": 0.002, "schedule": "cosine" },
            "normalization": { "mean": [0.5], "std": [0.25] }
          }
        }
        """;

    private readonly TempDirectory _dir = new();
    private readonly string _path;

    public DatasetOverrideTests() => _path = _dir.WriteText("d/dataset.json", File);

    public void Dispose() => _dir.Dispose();

    private static string Edit(string text, string field, string json, DatasetEdit.Layout layout = DatasetEdit.Layout.Readable) =>
        Encoding.UTF8.GetString(DatasetEdit.Set(Encoding.UTF8.GetBytes(text), "dataset.json", field, json, layout, "--set"));

    [Theory]
    [InlineData("train.learning_rate.base=0.004", "train.learning_rate.base", "0.004", "0.004")]
    [InlineData("train.model=resnet18", "train.model", "\"resnet18\"", "resnet18")]
    [InlineData("train.model=\"cnn\"", "train.model", "\"cnn\"", "cnn")]
    [InlineData("train.normalization.mean=[0.4, 0.3]", "train.normalization.mean", "[0.4,0.3]", "[0.4,0.3]")]
    [InlineData("labels.drop_unknown=true", "labels.drop_unknown", "true", "true")]
    [InlineData("train.normalization.mean[0]=0.4", "train.normalization.mean[0]", "0.4", "0.4")]
    public void A_value_is_JSON_and_a_bare_word_is_a_string(string text, string field, string json, string shown)
    {
        var o = DatasetOverride.Parse(text);

        Assert.Equal(field, o.Field);
        Assert.Equal(json, o.Json);
        Assert.Equal($"{field}={shown}", o.ToString());
    }

    [Theory]
    [InlineData("train.learning_rate", "expected FIELD=VALUE")]
    [InlineData("=3", "expected FIELD=VALUE")]
    [InlineData("train..model=cnn", "\"train..model\" is not a field path")]
    [InlineData("name=other", "name cannot be overridden")]
    public void A_malformed_override_is_refused_naming_it(string text, string expected)
    {
        var error = Assert.Throws<PipelineException>(() => DatasetOverride.Parse(text));

        Assert.StartsWith($"--set {text}: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_comma_list_is_a_grid_axis_and_brackets_or_quotes_keep_their_commas()
    {
        Assert.Equal(["0.001", "0.002", "0.004"], DatasetOverride.ParseAxis("train.learning_rate.base=0.001,0.002,0.004").Select(o => o.Value));
        Assert.Equal(["[0.5,0.4]", "[0.3,0.2]"], DatasetOverride.ParseAxis("train.normalization.mean=[0.5,0.4],[0.3,0.2]").Select(o => o.Value));
        Assert.Equal(["a,b"], DatasetOverride.ParseAxis("description=\"a,b\"").Select(o => o.Value));

        var grid = DatasetOverride.Grid(["train.learning_rate.base=0.1,0.2", "train.batch_size=16,32,64"]);

        Assert.Equal(
            ["train.learning_rate.base=0.1 train.batch_size=16", "train.learning_rate.base=0.1 train.batch_size=32", "train.learning_rate.base=0.1 train.batch_size=64",
             "train.learning_rate.base=0.2 train.batch_size=16", "train.learning_rate.base=0.2 train.batch_size=32", "train.learning_rate.base=0.2 train.batch_size=64"],
            grid.Select(run => string.Join(" ", run)));
        Assert.Single(DatasetOverride.Grid([]));
        Assert.Contains("train.batch_size is given twice", Assert.Throws<PipelineException>(() => DatasetOverride.Grid(["train.batch_size=1", "train.batch_size=2"])).Message);
    }

    [Fact]
    public void Setting_a_value_the_file_has_replaces_its_text_and_keeps_everything_else()
    {
        var edited = Edit(File, "train.learning_rate.base", "0.004");

        Assert.Equal(File.Replace("\"base\": 0.002", "\"base\": 0.004", StringComparison.Ordinal), edited);
    }

    [Fact]
    public void A_new_key_goes_on_its_own_line_indented_like_the_key_before_it_or_inline_where_the_object_is_written_on_one_line()
    {
        Assert.Equal(
            File.Replace("\"std\": [0.25] }\n  }", "\"std\": [0.25] },\n    \"batch_size\": 64\n  }", StringComparison.Ordinal),
            Edit(File, "train.batch_size", "64"));
        Assert.Equal(
            File.Replace("{ \"train\": 4 }", "{ \"train\": 4, \"test\": 2 }", StringComparison.Ordinal),
            Edit(File, "records.shards.test", "2"));
        // Keys the file lacks on the way are written as objects.
        Assert.Equal(
            File.Replace("\"std\": [0.25] }\n  }", "\"std\": [0.25] },\n    \"optimizer\": { \"momentum\": 0.9 }\n  }", StringComparison.Ordinal),
            Edit(File, "train.optimizer.momentum", "0.9"));
        Assert.Equal("{ \"a\": 1 }", Edit("{}", "a", "1"));
        Assert.Equal("{ \"a\": 1, \"b\": 2, }", Edit("{ \"a\": 1, }", "b", "2"));
    }

    [Fact]
    public void Same_lines_layout_keeps_every_other_value_on_its_line()
    {
        var edited = Edit(File, "train.learning_rate", "{\"base\":0.1}", DatasetEdit.Layout.SameLines);
        edited = Edit(edited, "train.seed", "7", DatasetEdit.Layout.SameLines);

        Assert.Equal(File.Split('\n').Length, edited.Split('\n').Length);
        var map = new JsonSourceMap("f", Encoding.UTF8.GetBytes(edited));
        Assert.Equal("f:9:32", map.Locate("train.normalization.mean"));
        Assert.Equal(new JsonSourceMap("f", Encoding.UTF8.GetBytes(File)).Locate("train.normalization.mean"), map.Locate("train.normalization.mean"));
    }

    [Theory]
    [InlineData("train.model.name", "train.model is not an object in dataset.json, so it has no key \"name\"")]
    [InlineData("train.normalization.mean[3]", "train.normalization.mean has no element [3]")]
    public void A_field_the_file_cannot_hold_is_refused(string field, string expected)
    {
        var error = Assert.Throws<PipelineException>(() => Edit(File, field, "1"));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void The_loader_checks_overrides_as_it_checks_the_file_and_names_the_override_in_its_errors()
    {
        var loaded = DatasetLoader.Load(_path, [DatasetOverride.Parse("train.learning_rate.base=0.004"), DatasetOverride.Parse("train.batch_size=32")]);
        Assert.Equal(0.004, loaded.Train.LearningRate.Base);
        Assert.Equal(32, loaded.Train.BatchSize);
        Assert.Equal(["train.learning_rate.base=0.004", "train.batch_size=32"], loaded.Overrides.Select(o => o.ToString()));
        Assert.Equal(File, System.IO.File.ReadAllText(_path));

        Assert.Equal("--set train.learning_rate.base=-1: train.learning_rate.base is -1; it must be positive",
            Assert.Throws<PipelineException>(() => DatasetLoader.Load(_path, [DatasetOverride.Parse("train.learning_rate.base=-1")])).Message);
        Assert.Equal("--set train.batch_size=big: train.batch_size is \"big\"; expected a whole number",
            Assert.Throws<PipelineException>(() => DatasetLoader.Load(_path, [DatasetOverride.Parse("train.batch_size=big")])).Message);
        Assert.StartsWith("--set train.batch_sise=32: unknown key \"batch_sise\" in train; known keys:",
            Assert.Throws<PipelineException>(() => DatasetLoader.Load(_path, [DatasetOverride.Parse("train.batch_sise=32")])).Message);
        Assert.StartsWith("--set train.model=resnet1: train.model is \"resnet1\"",
            Assert.Throws<PipelineException>(() => DatasetLoader.Load(_path, [DatasetOverride.Parse("train.model=resnet1")])).Message);
    }
}
