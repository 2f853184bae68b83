using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Training.Evaluation;
using Snapshooter.Xunit;
using static Pipeline.Training.Tests.Evaluation.ClassificationMetricsAccumulatorTests;

namespace Pipeline.Training.Tests.Evaluation;

public sealed class ClassificationMetricsTests
{
    private static readonly string[] ThreeLabels = ["cat", "dog", "fox"];

    [Fact]
    public void Metrics_json_matches_the_committed_snapshot()
    {
        var json = ThreeClassCase().ToJson(ThreeLabels, new JsonObject { ["checkpoint"] = "abc123", ["split"] = "test", ["model"] = "cnn" });

        // A changed snapshot changes every metrics.json: consumers (the model card, Export) read these keys.
        Snapshot.Match(CanonicalJson.Serialize(json, indented: true));
    }

    [Fact]
    public void Identical_inputs_give_byte_identical_json()
    {
        static string Json()
        {
            var (logits, targets) = RandomBatch(12, 50, seed: 3);
            var accumulator = new ClassificationMetricsAccumulator(12);
            accumulator.Add(logits, targets);
            var labels = Enumerable.Range(0, 12).Select(i => $"class{i:D2}").ToArray();
            return CanonicalJson.Serialize(accumulator.Compute().ToJson(labels, new JsonObject { ["split"] = "test" }), indented: true);
        }

        Assert.Equal(Json(), Json());
    }

    [Fact]
    public void Json_rounds_numbers_to_six_decimals()
    {
        var json = ThreeClassCase().ToJson(ThreeLabels);

        Assert.Equal(0.666667, json["per_class"]!["cat"]!["f1"]!.GetValue<double>());
        Assert.Equal(0.583333, json["macro"]!["recall"]!.GetValue<double>());
    }

    [Fact]
    public void Json_names_classes_and_confusion_rows_by_labels_in_labels_txt_order()
    {
        var json = ThreeClassCase().ToJson(ThreeLabels);

        Assert.Equal(ThreeLabels, json["per_class"]!.AsObject().Select(p => p.Key));
        Assert.Equal(ThreeLabels, json["confusion_matrix"]!["labels"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal("[2,2,0]", json["confusion_matrix"]!["rows"]![1]!.ToJsonString());
        Assert.Equal(4, json["per_class"]!["dog"]!["support"]!.GetValue<long>());
    }

    [Fact]
    public void Json_has_top5_accuracy_only_with_more_than_five_classes()
    {
        var five = Compute(5, [(0, 0)]).ToJson(["a", "b", "c", "d", "e"]);
        var six = Compute(6, [(0, 0)]).ToJson(["a", "b", "c", "d", "e", "f"]);

        Assert.False(five.ContainsKey("top5_accuracy"));
        Assert.Equal(1.0, six["top5_accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void Extra_fields_are_added_but_may_not_replace_a_metric()
    {
        var metrics = ThreeClassCase();

        var json = metrics.ToJson(ThreeLabels, new JsonObject { ["split"] = "test" });
        var error = Assert.Throws<ArgumentException>(() => metrics.ToJson(ThreeLabels, new JsonObject { ["accuracy"] = 1 }));

        Assert.Equal("test", json["split"]!.GetValue<string>());
        Assert.Contains("extra field \"accuracy\" would replace a metric", error.Message);
    }

    [Fact]
    public void Labels_that_do_not_match_the_class_count_are_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => ThreeClassCase().ToJson(["cat", "dog"]));

        Assert.Contains("2 labels for 3 classes", error.Message);
    }
}
