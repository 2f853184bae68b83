using Pipeline.Core.Engine;
using Pipeline.Core.Labels;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Labels;

public sealed class LabelSetTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Labels_are_sorted_ordinally_and_unique()
    {
        var labels = new LabelSet(["tulips", "daisy", "roses", "daisy", "Zinnia", "tulips"]);

        Assert.Equal(["Zinnia", "daisy", "roses", "tulips"], labels.Labels);
        Assert.Equal(4, labels.Count);
    }

    [Fact]
    public void Class_id_is_the_one_based_position_in_sorted_order()
    {
        var labels = new LabelSet(["tulips", "daisy", "roses"]);

        Assert.Equal([1, 2, 3], new[] { "daisy", "roses", "tulips" }.Select(labels.ClassId));
    }

    [Fact]
    public void Class_id_of_an_unknown_label_throws()
    {
        var labels = new LabelSet(["daisy"]);

        Assert.False(labels.Contains("rose"));
        Assert.Throws<KeyNotFoundException>(() => labels.ClassId("rose"));
    }

    [Fact]
    public void Contains_is_case_sensitive()
    {
        var labels = new LabelSet(["daisy"]);

        Assert.True(labels.Contains("daisy"));
        Assert.False(labels.Contains("Daisy"));
    }

    [Fact]
    public void Text_is_one_label_per_line_in_sorted_order()
    {
        Assert.Equal("daisy\nroses\ntulips\n", new LabelSet(["tulips", "roses", "daisy"]).ToText());
    }

    [Fact]
    public void Closest_to_rose_is_roses()
    {
        var labels = new LabelSet(["daisy", "dandelion", "roses", "sunflowers", "tulips"]);

        Assert.Equal("roses", labels.Closest("rose"));
    }

    [Fact]
    public void Closest_ignores_case()
    {
        var labels = new LabelSet(["daisy", "roses"]);

        Assert.Equal("daisy", labels.Closest("DAISY"));
    }

    [Fact]
    public void Closest_is_null_when_nothing_is_near()
    {
        var labels = new LabelSet(["daisy", "roses", "tulips"]);

        Assert.Null(labels.Closest("airplane"));
    }

    [Fact]
    public void Closest_is_null_for_an_empty_set()
    {
        Assert.Null(new LabelSet([]).Closest("rose"));
    }

    [Fact]
    public void Read_gives_back_what_ToText_wrote()
    {
        var original = new LabelSet(["tulips", "roses", "daisy"]);
        var path = _dir.WriteText("labels.txt", original.ToText());

        Assert.Equal(original.Labels, LabelSet.Read(path).Labels);
    }

    [Fact]
    public void Read_rejects_a_blank_line_naming_file_and_line()
    {
        var path = _dir.WriteText("labels.txt", "daisy\nroses\n   \ntulips\n");

        var error = Assert.Throws<PipelineException>(() => LabelSet.Read(path));

        Assert.Equal($"{path}:3", error.Location);
        Assert.StartsWith($"{path}:3: blank label", error.Message);
    }

    [Fact]
    public void Read_rejects_an_empty_line_at_the_start()
    {
        var path = _dir.WriteText("labels.txt", "\ndaisy\n");

        var error = Assert.Throws<PipelineException>(() => LabelSet.Read(path));

        Assert.Equal($"{path}:1", error.Location);
    }
}
