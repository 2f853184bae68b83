using System.Text.Json.Nodes;
using Pipeline.Core.Engine;
using Pipeline.Core.Tests.TestSupport;

namespace Pipeline.Core.Tests.Engine;

/// <summary>An upstream stage's outputs as an input kind: named and hashed as files, and known as a dependency.</summary>
public sealed class StageOutputsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _artifacts;
    private readonly StageEngine _engine;

    /// <summary>A folder output listed from what was built: its index, and every part the index names.</summary>
    private static readonly StageOutputs Parts = new("parts", "parts", folder =>
        File.Exists(Path.Combine(folder, "index.txt")) ? ["index.txt", .. File.ReadAllLines(Path.Combine(folder, "index.txt"))] : ["index.txt"]);

    private static readonly StageOutputs Names = new("names", "names.txt");

    public StageOutputsTests()
    {
        _artifacts = _dir.Combine("artifacts/data");
        Directory.CreateDirectory(_artifacts);
        _engine = new StageEngine(_artifacts, _dir.Path, FileHashCache.InMemory(), _ => { });
    }

    public void Dispose() => _dir.Dispose();

    private void WriteParts(params string[] parts)
    {
        _dir.WriteText("artifacts/data/parts/index.txt", string.Join('\n', parts));
        foreach (var part in parts)
        {
            _dir.WriteText($"artifacts/data/parts/{part}", part);
        }
    }

    [Fact]
    public void Each_listed_file_is_an_input_named_under_the_output_and_the_stage_is_a_dependency()
    {
        WriteParts("a.bin", "b.bin");
        _dir.WriteText("artifacts/data/names.txt", "x\n");
        var declaration = new StageDeclaration([StageInput.OutputsOf(Names, _artifacts), StageInput.OutputsOf(Parts, _artifacts)], [], ["out"]);

        Assert.Equal(["names.txt", "parts/index.txt", "parts/a.bin", "parts/b.bin"], declaration.Hashed.Select(i => i.Name));
        Assert.Equal(Path.Combine(_artifacts, "parts", "b.bin"), Assert.IsType<FileInput>(declaration.Hashed[^1]).Path);
        Assert.Equal(["names", "parts"], declaration.Upstream);
    }

    [Fact]
    public void Only_the_files_asked_for_are_inputs_and_a_file_the_stage_never_writes_is_a_mistake_in_the_code()
    {
        WriteParts("a.bin", "b.bin");

        var some = (UpstreamInput)StageInput.OutputsOf(Parts, _artifacts, "b.bin");
        var error = Assert.Throws<ArgumentException>(() => StageInput.OutputsOf(Parts, _artifacts, "c.bin"));

        Assert.Equal(["parts/b.bin"], some.Files.Select(f => f.Name));
        Assert.StartsWith("parts writes no c.bin in parts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stage_reading_an_upstream_output_is_stale_while_it_is_unbuilt_and_when_any_listed_file_changes()
    {
        var reader = new Reader(_artifacts);
        Assert.Contains("artifacts/data/parts/index.txt missing", _engine.Check(reader).Summary, StringComparison.Ordinal);

        WriteParts("a.bin", "b.bin");
        Assert.True(_engine.Run(reader).Ran);
        Assert.True(_engine.Check(reader).IsFresh);

        _dir.WriteText("artifacts/data/parts/b.bin", "changed");
        Assert.Contains("parts/b.bin", _engine.Check(reader).Summary, StringComparison.Ordinal);

        // A part the index no longer lists is no input any more: dropping it from the index is the change seen.
        WriteParts("a.bin", "b.bin");
        _engine.Run(reader);
        WriteParts("a.bin");
        Assert.Contains("parts/b.bin", _engine.Check(reader).Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_file_read_twice_is_refused_as_a_declaration_mistake()
    {
        _dir.WriteText("artifacts/data/names.txt", "x\n");
        var twice = new Reader(_artifacts, StageInput.File("names.txt", _dir.Combine("elsewhere.txt")));

        var error = Assert.Throws<PipelineException>(() => _engine.Check(twice));

        Assert.Contains("input \"names.txt\" is declared twice", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Reads names.txt and every part; writes their count.</summary>
    private sealed class Reader(string artifacts, StageInput? extra = null) : IStage
    {
        public string Name => "reader";

        public int ImplementationVersion => 1;

        public StageDeclaration Declare() => new(
            [StageInput.OutputsOf(Parts, artifacts), .. extra is null ? [] : new[] { extra, StageInput.OutputsOf(Names, artifacts) }],
            new JsonObject(),
            ["count.txt"]);

        public void Run(StageRun run) => File.WriteAllText(run.PathOf("count.txt"), Declare().Hashed.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
