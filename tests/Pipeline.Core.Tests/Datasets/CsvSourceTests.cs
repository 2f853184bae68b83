using System.Net;
using System.Text;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Pipeline.Core.Tests.Datasets;

public sealed class CsvSourceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Relative_image_is_resolved_against_the_csv_folder()
    {
        _dir.WriteText("lists/train.csv", "daisy/1.jpg,daisy\n");
        var image = WriteJpeg("lists/daisy/1.jpg");

        var example = Assert.Single(Source(("train", "lists/train.csv")).Examples("train"));

        Assert.Equal(new SourceExample("train", "daisy", example.Origin, new FileImageRef(image)), example);
    }

    [Fact]
    public void Absolute_image_path_is_kept_as_written()
    {
        var image = WriteJpeg("elsewhere/a.jpg");
        _dir.WriteText("lists/train.csv", $"{image},daisy\n");

        var example = Assert.Single(Source(("train", "lists/train.csv")).Examples("train"));

        Assert.Equal(image, ((FileImageRef)example.Image).Location);
    }

    [Fact]
    public void Url_images_are_kept_as_written_and_only_local_images_are_example_inputs()
    {
        var local = WriteJpeg("a.jpg");
        var csv = _dir.WriteText("train.csv",
            "a.jpg,daisy\nhttps://example.com/b.jpg,rose\nhttp://example.com/c.jpg?x=1,rose\ngs://bucket/flowers/d.jpg,tulip\n");
        var source = Source(("train", "train.csv"));

        var locations = source.Examples("train").Select(e => ((FileImageRef)e.Image).Location);
        var inputs = source.ExampleInputs("train");

        Assert.Equal([local, "https://example.com/b.jpg", "http://example.com/c.jpg?x=1", "gs://bucket/flowers/d.jpg"], locations);
        Assert.Equal([StageInput.File("train.csv", csv), StageInput.File("train:a.jpg", local)], inputs);
    }

    [Fact]
    public void Blank_lines_are_skipped_and_origins_keep_the_file_line_numbers()
    {
        _dir.WriteText("train.csv", "\na.jpg,daisy\n\n   \nb.jpg,rose\n\n");

        var examples = Source(("train", "train.csv")).Examples("train");

        Assert.Equal(["daisy", "rose"], examples.Select(e => e.Label));
        Assert.EndsWith("/train.csv:2", examples[0].Origin);
        Assert.EndsWith("/train.csv:5", examples[1].Origin);
    }

    [Theory]
    [InlineData("image,label")]
    [InlineData("image_uri,label")]
    [InlineData(" Image , Label ")]
    public void Header_row_is_skipped(string header)
    {
        _dir.WriteText("train.csv", $"\n{header}\na.jpg,daisy\n");

        var labels = Source(("train", "train.csv")).Labels("train").ToList();

        var (label, origin) = Assert.Single(labels);
        Assert.Equal("daisy", label);
        Assert.EndsWith("train.csv:3", origin);
    }

    [Theory]
    [InlineData("a.jpg,daisy")]
    [InlineData("daisy/a,daisy")]
    [InlineData("gs://bucket/a,daisy")]
    [InlineData("IMG_0001,daisy")]
    public void First_line_that_names_an_image_is_data_not_a_header(string line)
    {
        _dir.WriteText("train.csv", $"{line}\nb.jpg,rose\n");

        var labels = Source(("train", "train.csv")).Labels("train").Select(l => l.Label);

        Assert.Equal(["daisy", "rose"], labels);
    }

    [Fact]
    public void Quoted_image_keeps_its_comma_and_doubled_quotes()
    {
        _dir.WriteText("train.csv", "\"a, b.jpg\",daisy\n \"say \"\"hi\"\".jpg\" , \"rose\"\n");

        var examples = Source(("train", "train.csv")).Examples("train");

        Assert.Equal([_dir.Combine("a, b.jpg"), _dir.Combine("say \"hi\".jpg")], examples.Select(e => ((FileImageRef)e.Image).Location));
        Assert.Equal(["daisy", "rose"], examples.Select(e => e.Label));
    }

    [Fact]
    public void Surrounding_whitespace_and_a_byte_order_mark_are_ignored()
    {
        _dir.WriteBytes("train.csv", [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("image,label\r\n  a.jpg\t,  daisy  \r\n")]);

        var example = Assert.Single(Source(("train", "train.csv")).Examples("train"));

        Assert.Equal("daisy", example.Label);
        Assert.Equal(_dir.Combine("a.jpg"), ((FileImageRef)example.Image).Location);
        Assert.EndsWith("train.csv:2", example.Origin);
    }

    [Theory]
    [InlineData("c.jpg", "expected 2 fields, found 1")]
    [InlineData("c.jpg,daisy,extra", "expected 2 fields, found 3")]
    [InlineData("c.jpg,daisy,", "expected 2 fields, found 3")]
    [InlineData(",daisy", "the image field is empty")]
    [InlineData("c.jpg,  ", "the label of \"c.jpg\" is empty")]
    [InlineData("\"c.jpg,daisy", "field 1 opens a quote that is not closed")]
    [InlineData("\"c.jpg\"x,daisy", "field 1 has text after its closing quote")]
    [InlineData("s3://bucket/c.jpg,daisy", "image \"s3://bucket/c.jpg\" uses the unsupported scheme s3://", "use a local path, http(s):// or gs://")]
    public void Malformed_line_is_reported_with_file_and_line(string line, string problem,
        string advice = "each line should be image,label (e.g. daisy/1.jpg,daisy)")
    {
        var csv = _dir.WriteText("lists/train.csv", $"image,label\na.jpg,daisy\n\n{line}\nb.jpg,rose\n");
        var source = Source(("train", "lists/train.csv"));

        var fromExamples = Assert.Throws<PipelineException>(() => source.Examples("train"));
        var fromLabels = Assert.Throws<PipelineException>(() => source.Labels("train").ToList());

        foreach (var error in new[] { fromExamples, fromLabels })
        {
            Assert.Equal($"{csv}:4", error.Location);
            Assert.StartsWith($"{csv}:4: {problem}", error.Message);
            Assert.Contains(advice, error.Message);
        }
    }

    [Fact]
    public void Missing_csv_is_reported_with_its_path()
    {
        var source = Source(("train", "lists/missing.csv"));
        var expected = Path.Combine(_dir.Path, "lists", "missing.csv");

        var fromExamples = Assert.Throws<PipelineException>(() => source.Examples("train"));
        var fromInputs = Assert.Throws<PipelineException>(() => source.LabelInputs("train"));

        foreach (var error in new[] { fromExamples, fromInputs })
        {
            Assert.Equal(expected, error.Location);
            Assert.Contains("CSV file not found (source.splits.train in", error.Message);
            Assert.Contains("\"lists/missing.csv\"", error.Message);
        }
    }

    [Fact]
    public void Source_without_a_train_split_is_an_error_naming_dataset_json()
    {
        var error = Assert.Throws<PipelineException>(() => Source(("validation", "v.csv"), ("test", "t.csv")));

        Assert.Equal(Path.Combine(_dir.Path, "dataset.json"), error.Location);
        Assert.Contains("no \"train\" split (found: validation, test)", error.Message);
    }

    [Fact]
    public void Splits_are_listed_train_validation_test_then_others_by_name()
    {
        var source = Source(("test", "t.csv"), ("zeta", "z.csv"), ("extra", "e.csv"), ("train", "a.csv"), ("validation", "v.csv"));

        Assert.Equal(["train", "validation", "test", "extra", "zeta"], source.Splits);
    }

    [Fact]
    public void Label_inputs_are_the_csv_named_as_written_in_dataset_json()
    {
        var train = _dir.WriteText("lists/train.csv", "a.jpg,daisy\n");
        var eval = _dir.WriteText("lists/eval.csv", "b.jpg,rose\n");
        var source = Source(("train", "lists/train.csv"), ("validation", "lists/eval.csv"), ("test", "lists/eval.csv"));

        Assert.Equal([StageInput.File("lists/train.csv", train)], source.LabelInputs("train"));
        // Two splits sharing one CSV would otherwise declare the same input name twice.
        Assert.Equal([StageInput.File("validation:lists/eval.csv", eval)], source.LabelInputs("validation"));
        Assert.Equal([StageInput.File("test:lists/eval.csv", eval)], source.LabelInputs("test"));
    }

    [Fact]
    public void Example_inputs_list_each_local_image_once_named_by_split_and_path_as_written()
    {
        var csv = _dir.WriteText("lists/train.csv", "daisy/a.jpg,daisy\nrose/b.jpg,rose\ndaisy/a.jpg,daisy\n");
        var a = WriteJpeg("lists/daisy/a.jpg");
        var b = WriteJpeg("lists/rose/b.jpg");

        var inputs = Source(("train", "lists/train.csv")).ExampleInputs("train");

        Assert.Equal(
            [StageInput.File("lists/train.csv", csv), StageInput.File("train:daisy/a.jpg", a), StageInput.File("train:rose/b.jpg", b)],
            inputs);
    }

    [Fact]
    public void Missing_local_image_is_listed_as_an_example_but_not_as_an_input()
    {
        var csv = _dir.WriteText("train.csv", "gone.jpg,daisy\n");
        var source = Source(("train", "train.csv"));

        var example = Assert.Single(source.Examples("train"));

        Assert.Equal(_dir.Combine("gone.jpg"), ((FileImageRef)example.Image).Location);
        Assert.Equal([StageInput.File("train.csv", csv)], source.ExampleInputs("train"));
    }

    [Fact]
    public void Labels_are_read_from_the_csv_alone()
    {
        _dir.WriteText("train.csv", "image,label\nnot-there/a.jpg,daisy\nnot-there/b.jpg,rose\n");

        var labels = Source(("train", "train.csv")).Labels("train").ToList();

        Assert.Equal(["daisy", "rose"], labels.Select(l => l.Label));
        Assert.EndsWith("train.csv:2", labels[0].Origin);
        Assert.EndsWith("train.csv:3", labels[1].Origin);
    }

    [Fact]
    public void Csv_at_a_url_is_fetched_once_through_the_download_cache()
    {
        const string url = "https://data.example/flowers/train.csv";
        const string content = "image,label\ndaisy/1.jpg,daisy\nhttps://cdn.example/2.jpg,rose\n";
        using var handler = new StubHandler(_ => content);
        var source = Source(handler, ("train", url));

        var examples = source.Examples("train");
        var input = Assert.IsType<FileInput>(Assert.Single(source.LabelInputs("train")));

        Assert.Equal(["https://data.example/flowers/daisy/1.jpg", "https://cdn.example/2.jpg"],
            examples.Select(e => ((FileImageRef)e.Image).Location));
        Assert.Equal($"{url}:2", examples[0].Origin);
        Assert.Equal(url, input.Name);
        Assert.Equal(content, File.ReadAllText(input.Path));
        Assert.Equal([url], handler.Requests);
    }

    [Fact]
    public void Relative_image_in_a_gs_csv_stays_a_gs_url()
    {
        using var handler = new StubHandler(_ => "a b/1.jpg,daisy\n");
        var source = Source(handler, ("train", "gs://bucket/flowers/train.csv"));

        var example = Assert.Single(source.Examples("train"));

        Assert.Equal("gs://bucket/flowers/a b/1.jpg", ((FileImageRef)example.Image).Location);
        Assert.Equal(["https://storage.googleapis.com/bucket/flowers/train.csv"], handler.Requests);
    }

    private CsvSource Source(params (string Split, string Csv)[] splits) => Source(null, splits);

    private CsvSource Source(HttpMessageHandler? handler, params (string Split, string Csv)[] splits)
    {
        var definition = new CsvSourceDefinition { Splits = splits.ToDictionary(s => s.Split, s => s.Csv) };
        var dataset = new DatasetDefinition
        {
            Name = "flowers",
            Source = definition,
            Directory = _dir.Path,
            DefinitionPath = Path.Combine(_dir.Path, "dataset.json"),
        };
        return new CsvSource(dataset, definition, new DownloadCache(Path.Combine(_dir.Path, "downloads"), handler, attempts: 1));
    }

    private string WriteJpeg(string relative)
    {
        var path = _dir.Combine(relative);
        using var image = new Image<Rgb24>(8, 8, new Rgb24(255, 0, 0));
        image.SaveAsJpeg(path);
        return path;
    }

    /// <summary>Answers every request with 200 and the given text, remembering what was asked for.</summary>
    private sealed class StubHandler(Func<Uri, string> body) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add(request.RequestUri!.AbsoluteUri);
            }
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body(request.RequestUri!)) });
        }
    }
}
