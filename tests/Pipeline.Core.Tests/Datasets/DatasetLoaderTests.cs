using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Datasets;

public sealed class DatasetLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private PipelineException LoadFails(string json)
    {
        var path = _dir.WriteText("d/dataset.json", json);
        return Assert.Throws<PipelineException>(() => DatasetLoader.Load(path));
    }

    [Fact]
    public void Unknown_key_is_rejected_with_the_list_of_known_keys()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "records": { "shardz": 3 } }""");

        Assert.Contains("dataset.json:1:90: unknown key \"shardz\" in records; known keys: jpeg_quality, max_image_pixels, on_bad_image, shards, shuffle_seed", error.Message);
    }

    [Fact]
    public void Unknown_top_level_key_is_rejected()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "trian": {} }""");

        Assert.Contains("unknown key \"trian\" in the top level; known keys: $schema, description, evaluate, export, inference, labels, name, records, smoke, source, train, transfer", error.Message);
    }

    [Fact]
    public void Transfer_from_an_unknown_backbone_names_the_known_ones()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "transfer": { "from": "imagenet-resnet152" } }""");

        Assert.Contains("transfer.from is \"imagenet-resnet152\"; transfer from imagenet-resnet18, dataset:NAME (the latest export of datasets/NAME), or weights:PATH", error.Message);
    }

    [Theory]
    [InlineData("\"from\": \"weights:w.pt\"", "transfer.architecture is missing: say which network the weights file holds")]
    [InlineData("\"from\": \"weights:w.onnx\", \"architecture\": \"cnn\"", "give a .pt, .pth or .safetensors state dict")]
    [InlineData("\"from\": \"weights:w.pt\", \"architecture\": \"cnn\"", "transfer.input_size and transfer.normalization are needed for a cnn's weights")]
    [InlineData("\"from\": \"imagenet-resnet18\", \"architecture\": \"cnn\"", "describe a weights file")]
    [InlineData("\"from\": \"imagenet-resnet18\", \"fine_tune\": {}", "transfer.fine_tune trains the backbone's last block, which needs a backbone TorchSharp can train")]
    public void A_weights_source_says_what_it_lacks(string transfer, string expected)
    {
        var error = LoadFails($$"""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "transfer": { {{transfer}} } }""");

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Flip_at_inference_is_refused_for_a_head_measured_on_cached_bottlenecks_naming_the_field()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "transfer": { "from": "imagenet-resnet18" }, "inference": { "flip": true } }""");

        Assert.Contains("inference.flip is true, but a transferred model is measured on the cached bottlenecks", error.Message);
        Assert.Contains("dataset.json:1:", error.Message);
    }

    [Fact]
    public void Transfer_with_a_train_section_says_which_one_trains()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "train": { "model": "cnn" }, "transfer": { "from": "imagenet-resnet18" } }""");

        Assert.Contains("has both \"train\" and \"transfer\"", error.Message);
    }

    [Theory]
    [InlineData("\"per_class\": 0")]
    [InlineData("\"skip_per_class\": -1")]
    public void An_empty_or_negative_per_class_subset_is_named(string subset)
    {
        var error = LoadFails($$"""{ "name": "x", "source": { "kind": "idx", "class_names": ["a"], "splits": { "train": { "images": "i", "labels": "l", {{subset}} } } } }""");

        Assert.Contains("source.splits.train: per_class is", error.Message);
    }

    [Fact]
    public void Unknown_source_kind_lists_the_kinds()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "parquet" } }""");

        Assert.Contains("source.kind is \"parquet\"; use one of: csv, folders, idx", error.Message);
    }

    [Fact]
    public void Key_of_another_source_kind_is_rejected()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" }, "root": "/photos" } }""");

        Assert.Contains("unknown key \"root\" in source; known keys: kind, splits", error.Message);
    }

    [Fact]
    public void Invalid_json_names_the_file_and_line()
    {
        var error = LoadFails("{ \"name\": \"x\",\n  \"source\": { ]\n}");

        // The ']' on line 2, column 15, as an editor counts them (System.Text.Json's own position is 0-based).
        Assert.Contains("dataset.json:2:15: not valid JSON", error.Message);
        Assert.DoesNotContain("LineNumber", error.Message);
    }

    [Fact]
    public void Key_given_twice_is_reported_not_resolved_silently()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "records": { "jpeg_quality": 90, "jpeg_quality": 80 } }""");

        Assert.Contains("dataset.json:1:110: not valid JSON: records.jpeg_quality is given twice", error.Message);
    }

    [Fact]
    public void Missing_required_field_is_named()
    {
        var error = LoadFails("""{ "source": { "kind": "csv", "splits": { "train": "t.csv" } } }""");

        Assert.Contains("name", error.Message);
    }

    [Fact]
    public void Bad_policy_value_is_named_with_the_allowed_values()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "records": { "on_bad_image": "ignore" } }""");

        Assert.Contains("records.on_bad_image is \"ignore\"; use \"error\" or \"skip\"", error.Message);
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData(".downloads")]
    [InlineData("a/b")]
    public void Name_that_could_escape_or_collide_in_artifacts_is_rejected(string name)
    {
        var error = LoadFails($$"""{ "name": "{{name}}", "source": { "kind": "csv", "splits": { "train": "t.csv" } } }""");

        Assert.Contains($"name \"{name}\" must start with a letter or digit", error.Message);
    }

    [Fact]
    public void Shard_count_for_a_split_the_source_lacks_is_rejected_with_its_splits()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv", "validation": "v.csv" } }, "records": { "shards": { "valdiation": 2 } } }""");

        Assert.Contains("records.shards names split \"valdiation\", which the source does not have; its splits: train, validation", error.Message);
    }

    [Fact]
    public void Class_name_listed_twice_is_rejected()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "idx", "splits": { "train": { "images": "i", "labels": "l" } }, "class_names": ["cat", "dog", "cat"] } }""");

        Assert.Contains("source.class_names lists \"cat\" 2 times", error.Message);
    }

    [Fact]
    public void Empty_fixed_label_is_rejected()
    {
        var error = LoadFails("""{ "name": "x", "source": { "kind": "csv", "splits": { "train": "t.csv" } }, "labels": { "fixed": ["cat", " "] } }""");

        Assert.Contains("labels.fixed[1] is empty", error.Message);
    }

    [Fact]
    public void Unknown_dataset_name_lists_the_known_datasets()
    {
        _dir.WriteText("datasets/flowers/dataset.json", "{}");

        var error = Assert.Throws<PipelineException>(() => DatasetLoader.Locate("flower", _dir.Path));

        Assert.Contains("no dataset named \"flower\"", error.Message);
        Assert.Contains("known datasets: flowers", error.Message);
    }

    [Fact]
    public void Shipped_dataset_definitions_load()
    {
        var loaded = Directory.GetDirectories(Path.Combine(Repository.Root, "datasets"))
            .Select(d => DatasetLoader.Load(Path.Combine(d, DatasetLoader.FileName)).Name).ToList();

        Assert.Contains("fashion-mnist", loaded);
        Assert.Contains("flowers", loaded);
    }

    /// <summary>A dataset.json with one entry on line 5, inside <paramref name="section"/>.</summary>
    private static string WithEntry(string section, string entry) => $$"""
        {
          "name": "x",
          "source": { "kind": "csv", "splits": { "train": "t.csv", "test": "s.csv" } },
          "{{section}}": {
            {{entry}}
          }
        }
        """;

    [Fact]
    public void A_value_of_the_wrong_kind_is_named_at_its_line_and_column_in_the_file()
    {
        var error = LoadFails(WithEntry("train", "\"batch_size\": \"big\""));

        Assert.EndsWith("dataset.json:5:19: train.batch_size is \"big\"; expected a whole number", error.Message);
    }

    [Fact]
    public void A_missing_required_key_names_its_section()
    {
        var error = LoadFails(WithEntry("transfer", "\"train_steps\": 10"));

        Assert.EndsWith("dataset.json:4:15: transfer lacks the required key \"from\"", error.Message);
    }

    [Fact]
    public void Columns_count_characters_not_bytes()
    {
        var error = LoadFails(WithEntry("labels", "\"fixed\": [\"Ünïcödé\", \"\"]"));

        Assert.Contains("dataset.json:5:26: labels.fixed[1] is empty", error.Message);
    }

    [Theory]
    [InlineData("train", "\"normalization\": { \"mean\": [0.1, 0.2, 0.3], \"std\": [0.5] }", "train.normalization.mean has 3 values for 1 channel")]
    [InlineData("train", "\"normalization\": { \"mean\": [0.5], \"std\": [0] }", "train.normalization.std[0] is 0; it must be positive")]
    [InlineData("train", "\"input_size\": 0", "train.input_size is 0;")]
    [InlineData("train", "\"channels\": 2", "train.channels is 2; use 1 (grayscale) or 3 (RGB)")]
    [InlineData("train", "\"learning_rate\": { \"base\": -1 }", "train.learning_rate.base is -1; it must be positive")]
    [InlineData("train", "\"learning_rate\": { \"schedule\": \"cosinus\" }", "train.learning_rate.schedule is \"cosinus\"; use one of: constant, step, cosine")]
    [InlineData("train", "\"threads\": -1", "train.threads is -1;")]
    [InlineData("train", "\"train_steps\": -5", "train.train_steps is -5;")]
    [InlineData("train", "\"epochs\": 0", "train.epochs is 0;")]
    [InlineData("train", "\"model\": \"resnet9000\"", "train.model is \"resnet9000\"; use one of: cnn, vgg7, resnet8, resnet14, resnet20, resnet18, resnet34, resnet50")]
    [InlineData("train", "\"optimizer\": { \"name\": \"adamx\" }", "train.optimizer.name is \"adamx\"; use one of: sgd, adamw")]
    [InlineData("train", "\"label_smoothing\": 1.5", "train.label_smoothing is 1.5;")]
    [InlineData("train", "\"eval_split\": \"validation\"", "train.eval_split is \"validation\", which the source does not have; its splits: train, test")]
    [InlineData("train", "\"distributed\": { \"processes\": 0 }", "train.distributed.processes is 0; use 1 (no MPI) or more")]
    [InlineData("train", "\"batch_size\": 100, \"distributed\": { \"processes\": 3 }", "train.batch_size 100 does not split into 3 equal shares; make the batch a multiple of train.distributed.processes")]
    [InlineData("train", "\"distributed\": { \"launcher\": \"ssh\" }", "train.distributed.launcher is \"ssh\"; use one of: mpirun, srun, none")]
    [InlineData("evaluate", "\"split\": \"validation\"", "evaluate.split is \"validation\", which the source does not have; its splits: train, test")]
    [InlineData("evaluate", "\"batch_size\": 0", "evaluate.batch_size is 0;")]
    [InlineData("transfer", "\"from\": \"imagenet-resnet18\", \"learning_rate\": 0", "transfer.learning_rate is 0; it must be positive")]
    [InlineData("transfer", "\"from\": \"imagenet-resnet18\", \"threads\": -2", "transfer.threads is -2;")]
    public void A_parameter_no_stage_can_use_is_refused_at_load_naming_file_line_and_field(string section, string entry, string expected)
    {
        var error = LoadFails(WithEntry(section, entry));

        Assert.Contains("dataset.json:5:", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Equal(error.Message, error.Message.Trim().Split('\n')[0]);
    }

    [Fact]
    public void Nesterov_without_momentum_is_refused_as_torch_refuses_it()
    {
        var error = LoadFails(WithEntry("train", "\"optimizer\": { \"name\": \"sgd\", \"momentum\": 0, \"nesterov\": true }"));

        Assert.Contains("dataset.json:5:", error.Message);
        Assert.Contains("train.optimizer.nesterov needs optimizer \"sgd\" with a momentum above 0", error.Message);
    }
}
