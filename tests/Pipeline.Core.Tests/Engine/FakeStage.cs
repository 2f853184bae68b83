using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Tests.Engine;

/// <summary>A stage made of data for engine tests: it concatenates its input files into its one output.</summary>
internal sealed class FakeStage : IStage
{
    public FakeStage(string name, params string[] inputs)
    {
        Name = name;
        Inputs = [.. inputs];
    }

    public string Name { get; }

    public int ImplementationVersion { get; set; } = 1;

    public List<string> Inputs { get; }

    public JsonObject Parameters { get; set; } = new() { ["size"] = 4 };

    public string Output => $"{Name}.out";

    /// <summary>When set, the stage writes part of its output and then throws.</summary>
    public bool FailHalfway { get; set; }

    /// <summary>Called once the output is written, before the engine takes over (a test fills the disk here).</summary>
    public Action? AfterWriting { get; set; }

    public int Runs { get; private set; }

    public bool Cacheable { get; set; } = true;

    public StageDeclaration Declare() => new(
        Inputs.Select(path => StageInput.File(Path.GetFileName(path), path)).ToList(),
        new JsonObject { [Name] = Parameters.DeepClone() },
        [Output])
    {
        Cacheable = Cacheable,
    };

    public void Run(StageRun run)
    {
        Runs++;
        using (var output = File.Create(run.PathOf(Output)))
        {
            output.Write(System.Text.Encoding.UTF8.GetBytes(Parameters.ToJsonString()));
            foreach (var input in Inputs)
            {
                var bytes = File.ReadAllBytes(input);
                output.Write(bytes);
                if (FailHalfway)
                {
                    throw new InvalidOperationException("failed halfway (simulated)");
                }
            }
        }
        AfterWriting?.Invoke();
    }
}
