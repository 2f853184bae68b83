using System.IO.Hashing;
using System.Text;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Datasets;

public sealed class FoldersSourceTests : IDisposable
{
    private static readonly byte[] Jpeg = EncodeJpeg();

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Labels_are_the_class_folder_names()
    {
        var daisy = Image("daisy/a.jpg");
        var roses = Image("roses/b.jpg");
        var tulips = Image("tulips/c.png");

        var examples = Source(validation: 0).Examples("train");

        Assert.Equal(["daisy", "roses", "tulips"], examples.Select(e => e.Label));
        Assert.Equal([daisy, roses, tulips], examples.Select(e => ((FileImageRef)e.Image).Location));
        Assert.Equal([daisy, roses, tulips], examples.Select(e => e.Origin));
    }

    [Fact]
    public void Images_at_any_depth_under_a_class_folder_take_its_name()
    {
        Image("daisy/2019/june/a.jpg");
        Image("daisy/b.jpg");

        var labels = Source(validation: 0).Labels("train").ToList();

        Assert.Equal(["daisy", "daisy"], labels.Select(l => l.Label));
        Assert.EndsWith("flower_photos/daisy/2019/june/a.jpg", labels[0].Origin);
    }

    [Fact]
    public void Hidden_files_hidden_folders_files_under_the_root_and_other_extensions_are_ignored()
    {
        Image("loose.jpg");
        Image("daisy/.hidden.jpg");
        Image("daisy/.thumbnails/a.jpg");
        Image(".git/objects/a.jpg");
        Image("daisy/sub/.cache/b.jpg");
        _dir.WriteText("flower_photos/daisy/notes.txt", "not an image");
        _dir.WriteText("flower_photos/daisy/a.jpg.bak", "not an image");
        Image("daisy/a.jpg");
        Image("daisy/B.JPG");

        var relative = RelativePaths(Source(validation: 0), "train");

        Assert.Equal(["daisy/B.JPG", "daisy/a.jpg"], relative);
    }

    [Fact]
    public void Extensions_are_matched_case_insensitively_with_or_without_a_dot()
    {
        Image("daisy/a.PNG");
        Image("daisy/b.webp");
        Image("daisy/c.jpg");

        var relative = RelativePaths(Source(validation: 0, extensions: [".png", "WEBP"]), "train");

        Assert.Equal(["daisy/a.PNG", "daisy/b.webp"], relative);
    }

    [Fact]
    public void Split_is_chosen_by_the_xxhash64_bucket_of_the_relative_path()
    {
        for (var i = 0; i < 300; i++)
        {
            Image($"{(i % 3 == 0 ? "daisy" : i % 3 == 1 ? "roses" : "tulips/sub")}/{i}.jpg");
        }
        var source = Source(validation: 20, test: 10);

        var splitOf = SplitsByPath(source);

        Assert.Equal(300, splitOf.Count);
        foreach (var (path, split) in splitOf)
        {
            var bucket = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(path)) % 10000 / 100.0;
            Assert.Equal(bucket < 20 ? "validation" : bucket < 30 ? "test" : "train", split);
        }
        Assert.All(source.Splits, s => Assert.NotEmpty(source.Examples(s)));
    }

    [Fact]
    public void Adding_images_keeps_every_existing_image_in_its_split()
    {
        for (var i = 0; i < 150; i++)
        {
            Image($"{(i % 2 == 0 ? "daisy" : "roses")}/{i:D3}.jpg");
        }
        var before = SplitsByPath(Source(validation: 15, test: 15));

        for (var i = 150; i < 300; i++)
        {
            Image($"{(i % 3 == 0 ? "daisy" : i % 3 == 1 ? "roses" : "sunflowers")}/{i:D3}.jpg");
        }
        var after = SplitsByPath(Source(validation: 15, test: 15));

        Assert.Equal(300, after.Count);
        Assert.All(before, entry => Assert.Equal(entry.Value, after[entry.Key]));
        Assert.Equal(3, before.Values.Distinct().Count());
    }

    [Theory]
    [InlineData(0, 0, new[] { "train" })]
    [InlineData(10, 0, new[] { "train", "validation" })]
    [InlineData(0, 5, new[] { "train", "test" })]
    [InlineData(10, 5, new[] { "train", "validation", "test" })]
    public void Validation_and_test_splits_exist_only_when_their_percent_is_positive(double validation, double test, string[] expected)
    {
        Assert.Equal(expected, Source(validation, test).Splits);
    }

    [Fact]
    public void Examples_are_in_ordinal_order_of_their_relative_path()
    {
        foreach (var name in new[] { "b.jpg", "a10.jpg", "B.jpg", "a2.jpg", "a.jpg" })
        {
            Image($"daisy/{name}");
        }
        Image("Roses/z.jpg");

        var relative = RelativePaths(Source(validation: 0), "train");

        Assert.Equal(["Roses/z.jpg", "daisy/B.jpg", "daisy/a.jpg", "daisy/a10.jpg", "daisy/a2.jpg", "daisy/b.jpg"], relative);
    }

    [Fact]
    public void Label_inputs_are_a_listing_and_example_inputs_add_each_image_file()
    {
        var a = Image("daisy/a.jpg");
        var b = Image("roses/sub/b.jpg");
        var source = Source(validation: 0);

        var listing = Assert.IsType<ListingInput>(Assert.Single(source.LabelInputs("train")));
        var inputs = source.ExampleInputs("train");

        Assert.Equal("folders:train", listing.Name);
        Assert.Equal(["daisy/a.jpg", "roses/sub/b.jpg"], listing.Entries);
        var sameListing = Assert.IsType<ListingInput>(inputs[0]);
        Assert.Equal(listing.Name, sameListing.Name);
        Assert.Equal(listing.Entries, sameListing.Entries);
        Assert.Equal([StageInput.File("daisy/a.jpg", a), StageInput.File("roses/sub/b.jpg", b)], inputs.Skip(1));
    }

    [Fact]
    public void Missing_root_is_reported_with_its_path()
    {
        var source = Source(validation: 0);

        var error = Assert.Throws<PipelineException>(() => source.Examples("train"));

        Assert.Equal(Path.Combine(_dir.Path, "dataset.json"), error.Location);
        Assert.Contains($"source.root \"flower_photos\" is {Path.Combine(_dir.Path, "flower_photos")}, which is not a folder", error.Message);
    }

    [Fact]
    public void Class_folder_without_images_is_absent()
    {
        Image("daisy/a.jpg");
        Directory.CreateDirectory(_dir.Combine("flower_photos/empty/nested/x"));
        _dir.WriteText("flower_photos/docs/readme.txt", "no images here");

        var labels = Source(validation: 0).Labels("train").Select(l => l.Label).Distinct();

        Assert.Equal(["daisy"], labels);
    }

    private FoldersSource Source(double validation = 10, double test = 0, IReadOnlyList<string>? extensions = null)
    {
        var definition = new FoldersSourceDefinition
        {
            Root = "flower_photos",
            ValidationPercent = validation,
            TestPercent = test,
        };
        if (extensions is not null)
        {
            definition = definition with { Extensions = extensions };
        }
        var dataset = new DatasetDefinition
        {
            Name = "flowers",
            Source = definition,
            Directory = _dir.Path,
            DefinitionPath = Path.Combine(_dir.Path, "dataset.json"),
        };
        return new FoldersSource(dataset, definition);
    }

    private string Image(string relativeToRoot) => _dir.WriteBytes($"flower_photos/{relativeToRoot}", Jpeg);

    private Dictionary<string, string> SplitsByPath(FoldersSource source) =>
        source.Splits
            .SelectMany(split => RelativePaths(source, split).Select(path => (path, split)))
            .ToDictionary(e => e.path, e => e.split);

    /// <summary>The split's images in example order, relative to the root.</summary>
    private IReadOnlyList<string> RelativePaths(FoldersSource source, string split) =>
        source.Examples(split)
            .Select(e => Path.GetRelativePath(_dir.Combine("flower_photos"), ((FileImageRef)e.Image).Location).Replace('\\', '/'))
            .ToArray();

    private static byte[] EncodeJpeg()
    {
        using var image = new Image<Rgb24>(8, 8, new Rgb24(255, 0, 0));
        using var stream = new MemoryStream();
        image.SaveAsJpeg(stream);
        return stream.ToArray();
    }
}
