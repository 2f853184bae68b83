using System.Collections.Concurrent;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Tests.TestSupport;
using Pipeline.Serving.Versions;

namespace Pipeline.Serving.Tests.Versions;

/// <summary>
/// The versions of an export folder as a server sees them. Polling is driven by hand (<see cref="ModelVersions.Poll"/>;
/// the interval is an hour), so every step is deterministic.
/// </summary>
public sealed class ModelVersionsTests : IDisposable
{
    private static readonly VersionOptions Manual = new() { PollInterval = TimeSpan.FromHours(1), Threads = 1 };

    private readonly TempDirectory _dir = new();
    private readonly ConcurrentQueue<string> _log = new();
    private readonly string _export;

    public ModelVersionsTests() => _export = TinyExport.Write(_dir);

    public void Dispose() => _dir.Dispose();

    private string Version(int number) => Path.Combine(_export, number.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static string[] Classes(string tag) => [.. TinyExport.Classes.Select(c => $"{tag}-{c}")];

    private ModelVersions Open(VersionOptions? options = null) => ModelVersions.Open(_export, options ?? Manual, _log.Enqueue);

    private static string LabelOf(ModelVersions versions, int? version = null, string? label = null)
    {
        using var lease = versions.Lease(version, label);
        return lease.Classifier.Predict([TestImages.Black], ["probe"])[0].Label;
    }

    [Fact]
    public void Every_version_is_served_and_a_request_without_one_gets_the_highest()
    {
        TinyExport.WriteVersion(Version(2), Classes("v2"));
        TinyExport.WriteVersion(Version(3), Classes("v3"));

        using var versions = Open();

        Assert.Equal([1, 2, 3], versions.Available());
        Assert.Equal("v3-dark", LabelOf(versions));
        Assert.Equal("v2-dark", LabelOf(versions, 2));
        Assert.Equal("dark", LabelOf(versions, 1));
        Assert.Equal(["AVAILABLE", "AVAILABLE", "AVAILABLE"], versions.Statuses().Select(s => s.State));
        Assert.Equal([3, 2, 1], versions.Statuses().Select(s => s.Version));
    }

    [Fact]
    public void Keep_serves_only_the_newest_versions()
    {
        TinyExport.WriteVersion(Version(2), Classes("v2"));
        TinyExport.WriteVersion(Version(3), Classes("v3"));

        using var versions = Open(Manual with { Keep = 2 });

        Assert.Equal([2, 3], versions.Available());
        var error = Assert.Throws<VersionUnavailableException>(() => versions.Lease(1));
        Assert.Equal("version 1 is not served; available: 2, 3", error.Message);
        Assert.False(error.Transient);
    }

    [Fact]
    public void A_new_version_is_loaded_once_its_files_stopped_changing_between_two_looks()
    {
        using var versions = Open();
        TinyExport.WriteVersion(Version(2), Classes("v2"));

        versions.Poll();

        Assert.Equal([1], versions.Available());
        Assert.Equal(new VersionStatus(2, "LOADING"), versions.Statuses()[0]);
        var loading = Assert.Throws<VersionUnavailableException>(() => versions.Lease(2));
        Assert.True(loading.Transient);
        Assert.Equal("dark", LabelOf(versions));

        // Still being written: a file grows between the looks, so it waits another look.
        File.AppendAllText(Path.Combine(Version(2), ModelCard.LabelsFile), "");
        File.SetLastWriteTimeUtc(Path.Combine(Version(2), ModelCard.LabelsFile), DateTime.UtcNow.AddSeconds(1));
        versions.Poll();
        Assert.Equal([1], versions.Available());

        versions.Poll();

        Assert.Equal([1, 2], versions.Available());
        Assert.Equal("v2-dark", LabelOf(versions));
        Assert.Contains(_log, l => l.StartsWith("version 2 loaded in ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_broken_version_is_reported_not_served_and_tried_again_only_when_its_files_change()
    {
        using var versions = Open();
        Directory.CreateDirectory(Version(2));
        File.WriteAllBytes(Path.Combine(Version(2), ModelCard.OnnxFile), [1, 2, 3, 4]);
        File.WriteAllText(Path.Combine(Version(2), ModelCard.LabelsFile), string.Join("\n", TinyExport.Classes) + "\n");
        TinyExport.WriteCard(Version(2), TinyExport.Card());
        var loads = new List<(int, bool)>();
        versions.OnLoaded = (v, ok) => loads.Add((v, ok));

        versions.Poll();
        versions.Poll();
        versions.Poll();

        Assert.Equal([1], versions.Available());
        var failed = versions.Statuses()[0];
        Assert.Equal((2, "END"), (failed.Version, failed.State));
        Assert.Contains("ONNX Runtime cannot load the model", failed.Error, StringComparison.Ordinal);
        Assert.Equal([(2, false)], loads); // one try for these files, not one a look
        var error = Assert.Throws<VersionUnavailableException>(() => versions.Lease(2));
        Assert.StartsWith("version 2 is not served: it failed to load: ", error.Message, StringComparison.Ordinal);
        Assert.Equal("dark", LabelOf(versions));

        TinyExport.WriteVersion(Version(2), Classes("v2"));
        versions.Poll();
        versions.Poll();

        Assert.Equal([1, 2], versions.Available());
        Assert.Equal([(2, false), (2, true)], loads);
    }

    [Fact]
    public void A_graph_whose_outputs_are_not_probabilities_fails_the_load_checks()
    {
        TinyExport.WriteVersion(Version(2), softmax: false);

        using var versions = Open();

        Assert.Equal([1], versions.Available());
        var error = versions.Statuses()[0].Error!;
        Assert.True(error.Contains("probe input", StringComparison.Ordinal), error);
    }

    [Fact]
    public void No_version_that_loads_is_an_error_naming_each_problem()
    {
        File.Delete(Path.Combine(Version(1), ModelCard.OnnxFile));

        var error = Assert.Throws<PipelineException>(() => Open());

        Assert.Contains("no version loads: version 1: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("model.onnx is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_keep_1_a_broken_newer_version_leaves_the_old_one_serving()
    {
        using var versions = Open(Manual with { Keep = 1 });
        Directory.CreateDirectory(Version(2));
        File.WriteAllText(Path.Combine(Version(2), ModelCard.FileName), "{ not json");

        versions.Poll();
        Assert.Equal([1], versions.Available()); // still being looked at: the old one stays meanwhile
        versions.Poll();

        Assert.Equal([1], versions.Available());
        Assert.Equal("END", versions.Statuses()[0].State);

        TinyExport.WriteVersion(Version(3), Classes("v3"));
        versions.Poll();
        versions.Poll();

        Assert.Equal([3], versions.Available());
        Assert.Equal("v3-dark", LabelOf(versions));
    }

    [Fact]
    public void With_keep_1_a_version_overtaken_while_it_was_copied_in_is_no_longer_reported_loading()
    {
        using var versions = Open(Manual with { Keep = 1 });
        TinyExport.WriteVersion(Version(2), Classes("v2"));
        versions.Poll();
        TinyExport.WriteVersion(Version(3), Classes("v3"));

        versions.Poll();

        Assert.Equal([new VersionStatus(3, "LOADING"), new VersionStatus(1, "AVAILABLE")], versions.Statuses());
        versions.Poll();
        Assert.Equal([new VersionStatus(3, "AVAILABLE")], versions.Statuses());
    }

    [Fact]
    public void A_removed_version_finishes_the_requests_holding_it_and_takes_no_new_ones()
    {
        TinyExport.WriteVersion(Version(2), Classes("v2"));
        using var versions = Open();
        var held = versions.Lease(2);

        Directory.Delete(Version(2), recursive: true);
        versions.Poll();

        Assert.Equal([1], versions.Available());
        Assert.Equal(new VersionStatus(2, "UNLOADING"), versions.Statuses()[0]);
        Assert.Throws<VersionUnavailableException>(() => versions.Lease(2));
        Assert.Equal("v2-dark", held.Classifier.Predict([TestImages.Black], ["in flight"])[0].Label);
        Assert.Equal("dark", LabelOf(versions));

        held.Dispose();
        versions.Poll();

        Assert.Equal([new VersionStatus(1, "AVAILABLE")], versions.Statuses());
    }

    [Fact]
    public void Labels_name_versions_and_follow_the_file_as_it_changes()
    {
        TinyExport.WriteVersion(Version(2), Classes("v2"));
        var labels = Path.Combine(_export, ModelVersions.LabelsFileName);
        File.WriteAllText(labels, """{"stable": 1, "canary": 2}""");
        using var versions = Open();

        Assert.Equal("dark", LabelOf(versions, label: "stable"));
        Assert.Equal("v2-dark", LabelOf(versions, label: "canary"));
        var unknown = Assert.Throws<VersionUnavailableException>(() => versions.Lease(label: "beta"));
        Assert.Equal("no version is labelled \"beta\"; labels: canary → 2, stable → 1", unknown.Message);

        File.WriteAllText(labels, """{"stable": 2}""");
        File.SetLastWriteTimeUtc(labels, DateTime.UtcNow.AddSeconds(2));
        versions.Poll();

        Assert.Equal("v2-dark", LabelOf(versions, label: "stable"));
        Assert.Throws<VersionUnavailableException>(() => versions.Lease(label: "canary"));

        // A broken edit keeps the labels before it, and says so.
        File.WriteAllText(labels, """{"stable": "two"}""");
        File.SetLastWriteTimeUtc(labels, DateTime.UtcNow.AddSeconds(4));
        versions.Poll();

        var (current, error) = versions.Labels();
        Assert.Equal(2, current["stable"]);
        Assert.Contains("label \"stable\" names \"two\", not a version number", error, StringComparison.Ordinal);
        Assert.Equal("v2-dark", LabelOf(versions, label: "stable"));
    }

    [Fact]
    public void A_label_naming_a_version_that_is_not_served_says_so()
    {
        File.WriteAllText(Path.Combine(_export, ModelVersions.LabelsFileName), """{"canary": 9}""");
        using var versions = Open();

        var error = Assert.Throws<VersionUnavailableException>(() => versions.Lease(label: "canary"));

        Assert.Equal("version 9 (labelled \"canary\") is not served; available: 1", error.Message);
    }

    [Theory]
    [InlineData("[1, 2]", "the version labels are a JSON object")]
    [InlineData("""{"1st": 1}""", "label \"1st\" is not a label name")]
    [InlineData("""{"stable": 0}""", "label \"stable\" names 0, not a version number")]
    [InlineData("{\"stable\": 1,\n \"canary\": }", ".json:2: malformed JSON")]
    public void A_named_labels_file_that_is_wrong_stops_the_start_naming_the_problem(string text, string expected)
    {
        var labels = _dir.WriteText("labels.json", text);

        var error = Assert.Throws<PipelineException>(() => Open(Manual with { LabelsFile = labels }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_folder_is_served_alone_and_never_polled()
    {
        TinyExport.WriteVersion(Version(2), Classes("v2"));

        using var versions = ModelVersions.Open(Version(1), Manual);
        TinyExport.WriteVersion(Version(3), Classes("v3"));
        versions.Poll();
        versions.Poll();

        Assert.Null(versions.Folder);
        Assert.Equal([1], versions.Available());
    }
}
