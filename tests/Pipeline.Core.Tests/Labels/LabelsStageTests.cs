using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Tests.TestSupport;
using static Pipeline.Core.Tests.TestSupport.IdxBytes;

namespace Pipeline.Core.Tests.Labels;

public sealed class LabelsStageTests : IDisposable
{
    private static readonly string[] ClassNames = ["cat", "dog", "bird", "fish"];

    private readonly TempDirectory _dir = new();
    private readonly List<string> _log = [];

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Without_a_fixed_list_labels_are_the_sorted_distinct_train_labels()
    {
        var stage = Stage(trainLabels: [1, 0, 1, 2, 0], new LabelsParameters());

        stage.Run(Run());

        Assert.Equal("bird\ncat\ndog\n", File.ReadAllText(OutputPath));
    }

    [Fact]
    public void Fixed_list_with_unknown_train_labels_throws_listing_each_with_its_count()
    {
        var stage = Stage(trainLabels: [0, 3, 2, 3, 1, 2, 3], new LabelsParameters { Fixed = ["dog", "cat"], DropUnknown = false });

        var error = Assert.Throws<PipelineException>(() => stage.Run(Run()));

        Assert.Equal(DefinitionPath, error.Location);
        Assert.Contains("labels.fixed does not list \"fish\" (3 rows), \"bird\" (2 rows) found in the train split", error.Message);
        Assert.Contains("labels.drop_unknown", error.Message);
        Assert.False(File.Exists(OutputPath));
    }

    [Fact]
    public void Fixed_list_with_drop_unknown_writes_the_fixed_list_sorted_and_logs_what_is_dropped()
    {
        var stage = Stage(trainLabels: [0, 3, 2, 3, 1], new LabelsParameters { Fixed = ["dog", "cat", "dog", "zebra"], DropUnknown = true });

        stage.Run(Run());

        Assert.Equal("cat\ndog\nzebra\n", File.ReadAllText(OutputPath));
        Assert.Contains(_log, line => line.Contains("will be dropped: \"fish\" (2 rows), \"bird\" (1 rows)"));
    }

    [Fact]
    public void Fixed_list_covering_every_train_label_is_written_as_it_is_sorted()
    {
        var stage = Stage(trainLabels: [0, 1], new LabelsParameters { Fixed = ["dog", "cat", "bird"] });

        stage.Run(Run());

        Assert.Equal("bird\ncat\ndog\n", File.ReadAllText(OutputPath));
    }

    [Fact]
    public void Empty_train_split_throws_naming_the_dataset_definition()
    {
        var stage = Stage(trainLabels: [], new LabelsParameters());

        var error = Assert.Throws<PipelineException>(() => stage.Run(Run()));

        Assert.Equal(DefinitionPath, error.Location);
        Assert.Contains("the train split has no examples", error.Message);
    }

    [Fact]
    public void Declaration_depends_on_the_train_labels_file_and_outputs_labels_txt()
    {
        var stage = Stage(trainLabels: [0], new LabelsParameters());

        var declaration = stage.Declare();

        Assert.Equal([_dir.Combine("train-labels-idx1-ubyte")], declaration.Inputs.Select(i => Assert.IsType<FileInput>(i).Path));
        Assert.Equal([LabelsStage.Output], declaration.Outputs);
    }

    private string DefinitionPath => Path.Combine(_dir.Path, "dataset.json");

    private string OutputPath => Path.Combine(_dir.Path, "out", LabelsStage.Output);

    private LabelsStage Stage(byte[] trainLabels, LabelsParameters labels)
    {
        _dir.WriteBytes("train-labels-idx1-ubyte", Idx([trainLabels.Length], trainLabels));
        var source = new IdxSourceDefinition
        {
            Splits = new Dictionary<string, IdxSplit>
            {
                ["train"] = new() { Images = "train-images-idx3-ubyte", Labels = "train-labels-idx1-ubyte" },
            },
            ClassNames = ClassNames,
        };
        var dataset = new DatasetDefinition
        {
            Name = "tiny",
            Source = source,
            Labels = labels,
            Directory = _dir.Path,
            DefinitionPath = DefinitionPath,
        };
        return new LabelsStage(dataset, new IdxSource(dataset, source));
    }

    private StageRun Run()
    {
        Directory.CreateDirectory(Path.Combine(_dir.Path, "out"));
        return new StageRun(Path.Combine(_dir.Path, "out"), _log.Add, CancellationToken.None);
    }
}
