using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using static Pipeline.Core.Tests.TestSupport.IdxBytes;

namespace Pipeline.Core.Tests.Datasets;

public sealed class IdxSourceTests : IDisposable
{
    private const int Rows = 2;
    private const int Columns = 3;
    private static readonly string[] ClassNames = ["zero", "one", "two"];
    private static readonly byte[] Labels = [2, 0, 1, 2];
    private static readonly byte[] Pixels = Enumerable.Range(0, 4 * Rows * Columns).Select(i => (byte)(i * 9 + 1)).ToArray();

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Examples_carry_class_names_origins_and_the_pixels_of_each_image()
    {
        WriteSplit("x", Labels, Pixels);

        var examples = Source(("train", "x")).Examples("train");

        Assert.Equal(["two", "zero", "one", "two"], examples.Select(e => e.Label));
        Assert.All(examples, e => Assert.Equal("train", e.Split));
        Assert.Equal(
            ["x-images-idx3-ubyte: image 0", "x-images-idx3-ubyte: image 1", "x-images-idx3-ubyte: image 2", "x-images-idx3-ubyte: image 3"],
            examples.Select(e => e.Origin));
        for (var i = 0; i < examples.Count; i++)
        {
            var image = Assert.IsType<PixelImageRef>(examples[i].Image);
            Assert.Equal((Columns, Rows), (image.Width, image.Height));
            Assert.Equal(Pixels.AsSpan(i * Rows * Columns, Rows * Columns).ToArray(), image.Pixels.ToArray());
            Assert.Equal($"train-{i:D5}.png", image.FileName);
        }
    }

    [Fact]
    public void Gzipped_files_give_origins_with_the_gz_name_and_png_names_from_the_split()
    {
        _dir.WriteBytes("data/train-images-idx3-ubyte.gz", Gzip(Idx([4, Rows, Columns], Pixels)));
        _dir.WriteBytes("data/train-labels-idx1-ubyte.gz", Gzip(Idx([4], Labels)));
        var source = new IdxSource(Dataset(), new IdxSourceDefinition
        {
            Splits = new Dictionary<string, IdxSplit>
            {
                ["train"] = new() { Images = "data/train-images-idx3-ubyte.gz", Labels = "data/train-labels-idx1-ubyte.gz" },
            },
            ClassNames = ClassNames,
        });

        var example = source.Examples("train")[3];

        Assert.Equal("train-images-idx3-ubyte.gz: image 3", example.Origin);
        Assert.Equal("train-00003.png", example.Image.FileName);
        Assert.Equal(Pixels[(3 * Rows * Columns)..], ((PixelImageRef)example.Image).Pixels.ToArray());
    }

    [Fact]
    public void Labels_give_class_names_with_item_origins_in_the_labels_file()
    {
        WriteSplit("x", Labels, Pixels);

        var labels = Source(("train", "x")).Labels("train").ToList();

        Assert.Equal(
            [("two", "x-labels-idx1-ubyte: item 0"), ("zero", "x-labels-idx1-ubyte: item 1"), ("one", "x-labels-idx1-ubyte: item 2"), ("two", "x-labels-idx1-ubyte: item 3")],
            labels);
    }

    [Fact]
    public void Splits_are_train_validation_test_whatever_order_they_are_listed_in()
    {
        WriteSplit("a", Labels, Pixels);

        var source = Source(("test", "a"), ("extra", "a"), ("train", "a"), ("validation", "a"));

        Assert.Equal(["train", "validation", "test", "extra"], source.Splits);
    }

    [Fact]
    public void Label_inputs_are_the_labels_file_and_example_inputs_add_the_images_file()
    {
        WriteSplit("x", Labels, Pixels);
        var source = Source(("train", "x"));

        Assert.Equal([("train.labels", _dir.Combine("x-labels-idx1-ubyte"))], source.LabelInputs("train").Select(NameAndPath));
        Assert.Equal(
            [("train.labels", _dir.Combine("x-labels-idx1-ubyte")), ("train.images", _dir.Combine("x-images-idx3-ubyte"))],
            source.ExampleInputs("train").Select(NameAndPath));
    }

    [Fact]
    public void Label_index_beyond_class_names_throws_naming_the_labels_file_and_item()
    {
        WriteSplit("x", [2, 0, 3, 1], Pixels);
        var labelsPath = _dir.Combine("x-labels-idx1-ubyte");

        var error = Assert.Throws<PipelineException>(() => Source(("train", "x")).Examples("train"));

        Assert.Equal(labelsPath, error.Location);
        Assert.StartsWith($"{labelsPath}: item 2: label 3 has no name (source.class_names lists 3)", error.Message);
    }

    [Fact]
    public void Label_index_beyond_class_names_throws_when_only_labels_are_read()
    {
        WriteSplit("x", [2, 0, 1, 7], Pixels);
        var labelsPath = _dir.Combine("x-labels-idx1-ubyte");

        var error = Assert.Throws<PipelineException>(() => Source(("train", "x")).Labels("train").ToList());

        Assert.Equal(labelsPath, error.Location);
        Assert.Contains("item 3: label 7 has no name", error.Message);
    }

    [Fact]
    public void More_images_than_labels_throws_naming_both_files_and_counts()
    {
        WriteSplit("x", [2, 0, 1], Pixels);

        var error = Assert.Throws<PipelineException>(() => Source(("train", "x")).Examples("train"));

        Assert.Equal(_dir.Combine("x-images-idx3-ubyte"), error.Location);
        Assert.Contains($"4 images but 3 labels in {_dir.Combine("x-labels-idx1-ubyte")}", error.Message);
    }

    [Fact]
    public void Fewer_images_than_labels_throws()
    {
        WriteSplit("x", [2, 0, 1, 1, 0], Pixels);

        var error = Assert.Throws<PipelineException>(() => Source(("train", "x")).Examples("train"));

        Assert.Contains("4 images but 5 labels", error.Message);
    }

    [Fact]
    public void Images_file_without_rows_and_columns_throws()
    {
        _dir.WriteBytes("x-images-idx3-ubyte", Idx([4], Labels));
        _dir.WriteBytes("x-labels-idx1-ubyte", Idx([4], Labels));

        var error = Assert.Throws<PipelineException>(() => Source(("train", "x")).Examples("train"));

        Assert.Equal(_dir.Combine("x-images-idx3-ubyte"), error.Location);
        Assert.Contains("found 1 dimensions", error.Message);
    }

    [Fact]
    public void Labels_file_with_more_than_one_dimension_throws()
    {
        _dir.WriteBytes("x-images-idx3-ubyte", Idx([4, Rows, Columns], Pixels));
        _dir.WriteBytes("x-labels-idx1-ubyte", Idx([2, 2], Labels));

        var error = Assert.Throws<PipelineException>(() => Source(("train", "x")).Labels("train").ToList());

        Assert.Equal(_dir.Combine("x-labels-idx1-ubyte"), error.Location);
        Assert.Contains("expected a labels file (one dimension), found 2 dimensions", error.Message);
    }

    [Fact]
    public void Per_class_subsets_take_the_first_images_of_each_class_after_the_skipped_ones_and_keep_their_names()
    {
        // Labels 2 0 1 2 0 1 2 0 1 2: class 2 at items 0, 3, 6, 9; class 0 at 1, 4, 7; class 1 at 2, 5, 8.
        byte[] labels = [2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
        WriteSplit("x", labels, [.. Enumerable.Range(0, labels.Length * Rows * Columns).Select(i => (byte)i)]);
        var source = new IdxSource(Dataset(), new IdxSourceDefinition
        {
            Splits = new Dictionary<string, IdxSplit>
            {
                ["train"] = new() { Images = "x-images-idx3-ubyte", Labels = "x-labels-idx1-ubyte", PerClass = 2 },
                ["validation"] = new() { Images = "x-images-idx3-ubyte", Labels = "x-labels-idx1-ubyte", PerClass = 1, SkipPerClass = 2 },
            },
            ClassNames = ClassNames,
        });

        var train = source.Examples("train");
        var validation = source.Examples("validation");

        Assert.Equal(["train-00000.png", "train-00001.png", "train-00002.png", "train-00003.png", "train-00004.png", "train-00005.png"],
            train.Select(e => e.Image.FileName));
        Assert.Equal(["validation-00006.png", "validation-00007.png", "validation-00008.png"], validation.Select(e => e.Image.FileName));
        Assert.Equal(["two", "zero", "one"], validation.Select(e => e.Label));
        Assert.Equal(train.Select(e => e.Label), source.Labels("train").Select(l => l.Label));
        Assert.Equal("x-labels-idx1-ubyte: item 8", source.Labels("validation").Last().Origin);
    }

    private void WriteSplit(string stem, byte[] labels, byte[] pixels)
    {
        _dir.WriteBytes($"{stem}-images-idx3-ubyte", Idx([pixels.Length / (Rows * Columns), Rows, Columns], pixels));
        _dir.WriteBytes($"{stem}-labels-idx1-ubyte", Idx([labels.Length], labels));
    }

    private IdxSource Source(params (string Split, string Stem)[] splits) =>
        new(Dataset(), new IdxSourceDefinition
        {
            Splits = splits.ToDictionary(s => s.Split, s => new IdxSplit { Images = $"{s.Stem}-images-idx3-ubyte", Labels = $"{s.Stem}-labels-idx1-ubyte" }),
            ClassNames = ClassNames,
        });

    private DatasetDefinition Dataset() => new()
    {
        Name = "tiny",
        Source = new IdxSourceDefinition { Splits = new Dictionary<string, IdxSplit>(), ClassNames = ClassNames },
        Directory = _dir.Path,
        DefinitionPath = Path.Combine(_dir.Path, "dataset.json"),
    };

    private static (string Name, string Path) NameAndPath(StageInput input) => (input.Name, Assert.IsType<FileInput>(input).Path);
}
