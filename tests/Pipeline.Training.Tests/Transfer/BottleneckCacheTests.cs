using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Transfer;

namespace Pipeline.Training.Tests.Transfer;

public sealed class BottleneckCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _warnings = [];
    private readonly List<string> _computedFor = [];

    public void Dispose() => _dir.Dispose();

    private BottleneckCache Cache(string backbone = "backbone-a") => new(_dir.Combine("cache"), ContentHash.OfText(backbone), _warnings.Add);

    /// <summary>Images as content: the "bottleneck" is a function of the bytes, and the test records which were computed.</summary>
    private IReadOnlyList<float[]> Get(BottleneckCache cache, params string[] contents) =>
        cache.GetOrCompute([.. contents.Select(ContentHash.OfText)], indices =>
        {
            _computedFor.AddRange(indices.Select(i => contents[i]));
            return [.. indices.Select(i => new float[] { contents[i].Length, contents[i][0], 0.5f })];
        }, batch: 2);

    [Fact]
    public void A_second_run_over_the_same_images_computes_none_and_returns_the_same_values()
    {
        var first = Get(Cache(), "a", "bb", "ccc");
        _computedFor.Clear();

        var cache = Cache();
        var second = Get(cache, "a", "bb", "ccc");

        Assert.Empty(_computedFor);
        Assert.Equal((0, 3), cache.Last);
        Assert.Equal(first.Select(v => v.ToArray()), second.Select(v => v.ToArray()));
    }

    [Fact]
    public void Added_and_changed_images_are_computed_and_only_they()
    {
        Get(Cache(), "a", "bb", "ccc");
        _computedFor.Clear();

        var cache = Cache();
        Get(cache, "a", "bb changed", "ccc", "dddd");

        Assert.Equal(["bb changed", "dddd"], _computedFor);
        Assert.Equal((2, 2), cache.Last);
    }

    [Fact]
    public void Another_backbone_finds_none_of_the_first_ones_bottlenecks()
    {
        Get(Cache("backbone-a"), "a", "bb");
        _computedFor.Clear();

        var cache = Cache("backbone-b");
        Get(cache, "a", "bb");

        Assert.Equal(["a", "bb"], _computedFor);
        Assert.Equal((2, 0), cache.Last);
    }

    [Fact]
    public void An_image_listed_twice_is_computed_once_and_both_get_its_bottleneck()
    {
        var cache = Cache();
        var values = Get(cache, "a", "bb", "a");

        Assert.Equal(["a", "bb"], _computedFor);
        Assert.Equal(values[0], values[2]);
        Assert.Equal(1, cache.CountMissing([ContentHash.OfText("a"), ContentHash.OfText("new")]));
    }

    [Fact]
    public void A_damaged_entry_is_named_in_a_warning_and_computed_again()
    {
        Get(Cache(), "a", "bb");
        var entry = Directory.GetFiles(_dir.Combine("cache"), "*.f32", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).First();
        var bytes = File.ReadAllBytes(entry);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(entry, bytes);
        _computedFor.Clear();

        var cache = Cache();
        var values = Get(cache, "a", "bb");

        Assert.Single(_computedFor);
        var warning = Assert.Single(_warnings);
        Assert.Contains(Path.GetFileName(entry), warning);
        Assert.Contains("its checksum does not match", warning);
        Assert.All(values, v => Assert.Equal(0.5f, v[2]));
        // Computed again means stored again: a third run reads it cleanly.
        _warnings.Clear();
        Get(Cache(), "a", "bb");
        Assert.Empty(_warnings);
    }
}
