using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Serving.Export;
using Pipeline.Serving.Tests.TestSupport;

namespace Pipeline.Serving.Tests.Export;

public sealed class ExportedModelTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _export;

    public ExportedModelTests() => _export = TinyExport.Write(_dir);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Versions_are_folders_named_by_their_number_alone()
    {
        var export = _export;
        Directory.CreateDirectory(Path.Combine(export, "02"));
        Directory.CreateDirectory(Path.Combine(export, "drafts"));
        Directory.CreateDirectory(Path.Combine(export, "3"));

        Assert.Equal([1, 3], ExportedModel.Versions(export));
    }

    [Fact]
    public void Export_folder_its_latest_file_and_the_version_folder_open_the_version_latest_names()
    {
        CopyVersion(1, 2);
        _dir.WriteText("export/latest", "2\n");

        var fromFolder = ExportedModel.Open(_export);
        var fromPointer = ExportedModel.Open(Path.Combine(_export, ExportedModel.LatestPointer));
        var fromVersion = ExportedModel.Open(Path.Combine(_export, "2"));

        Assert.All([fromFolder, fromPointer, fromVersion], model =>
        {
            Assert.Equal(2, model.Version);
            Assert.Equal(Path.Combine(_export, "2"), model.Folder);
            Assert.Equal(Path.Combine(_export, "2", ModelCard.OnnxFile), model.OnnxPath);
            Assert.Equal(TinyExport.Classes, model.Card.Classes);
        });
    }

    [Fact]
    public void An_older_version_folder_opens_that_version_rather_than_the_latest()
    {
        CopyVersion(1, 2);
        _dir.WriteText("export/latest", "2\n");

        var model = ExportedModel.Open(Path.Combine(_export, "1"));

        Assert.Equal(1, model.Version);
        Assert.Equal(Path.Combine(_export, "1"), model.Folder);
    }

    [Fact]
    public void Versions_lists_the_numbered_folders_in_numeric_order_and_ignores_others()
    {
        CopyVersion(1, 10);
        CopyVersion(1, 2);
        Directory.CreateDirectory(Path.Combine(_export, "staging"));

        Assert.Equal([1, 2, 10], ExportedModel.Versions(_export));
        Assert.Empty(ExportedModel.Versions(Path.Combine(_dir.Path, "nothing-here")));
    }

    [Fact]
    public void Missing_path_is_refused_naming_it()
    {
        var missing = Path.Combine(_dir.Path, "artifacts", "tiny", "export");

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(missing));

        Assert.Equal(missing, error.Location);
        Assert.Contains("no such file or folder", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Folder_with_neither_model_json_nor_latest_is_refused_naming_it()
    {
        var empty = _dir.Combine("empty/x");
        Directory.CreateDirectory(empty);

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(empty));

        Assert.Equal(empty, error.Location);
        Assert.Contains("no model.json", error.Problem, StringComparison.Ordinal);
        Assert.Contains("no \"latest\" file", error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("newest")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("")]
    public void Latest_holding_no_version_number_is_refused_naming_the_pointer_file(string text)
    {
        var pointer = _dir.WriteText("export/latest", text + "\n");

        var fromFolder = Assert.Throws<PipelineException>(() => ExportedModel.Open(_export));
        var fromPointer = Assert.Throws<PipelineException>(() => ExportedModel.Open(pointer));

        Assert.All([fromFolder, fromPointer], error =>
        {
            Assert.Equal(pointer, error.Location);
            Assert.Contains($"holds \"{text}\", not a version number", error.Problem, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Latest_naming_a_version_that_does_not_exist_is_refused_naming_the_missing_folder()
    {
        _dir.WriteText("export/latest", "7\n");

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(_export));

        Assert.Equal(Path.Combine(_export, "7"), error.Location);
        Assert.Contains("no model.json", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_other_than_latest_is_refused_naming_it()
    {
        var onnx = Path.Combine(_export, "1", ModelCard.OnnxFile);

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(onnx));

        Assert.Equal(onnx, error.Location);
        Assert.Contains("\"latest\"", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_folder_not_named_by_a_number_is_refused_naming_it()
    {
        CopyVersion(1, "best");

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(Path.Combine(_export, "best")));

        Assert.Equal(Path.Combine(_export, "best"), error.Location);
        Assert.Contains("not \"best\"", error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dark\nlight\n", "lists 2 labels that differ from the 3 classes")]
    [InlineData("dark\nlight\nright-lit\n", "lists 3 labels that differ from the 3 classes")]
    [InlineData("light\ndark\nleft-lit\n", "lists 3 labels that differ from the 3 classes")]
    public void Labels_that_differ_from_the_cards_classes_are_refused_naming_the_version(string labels, string expected)
    {
        _dir.WriteText("export/1/labels.txt", labels);

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(_export));

        Assert.Equal(Path.Combine(_export, "1"), error.Location);
        Assert.Contains($"labels.txt {expected} of model.json", error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ModelCard.OnnxFile)]
    [InlineData(ModelCard.LabelsFile)]
    public void Missing_onnx_or_labels_file_is_refused_naming_the_file_and_the_version(string file)
    {
        File.Delete(Path.Combine(_export, "1", file));

        var error = Assert.Throws<PipelineException>(() => ExportedModel.Open(_export));

        Assert.Equal(Path.Combine(_export, "1"), error.Location);
        Assert.StartsWith($"{file} is missing", error.Problem, StringComparison.Ordinal);
    }

    private void CopyVersion(int from, object to)
    {
        var target = Path.Combine(_export, $"{to}");
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_export, $"{from}")))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
    }
}
