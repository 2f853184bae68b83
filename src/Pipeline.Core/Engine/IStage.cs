namespace Pipeline.Core.Engine;

/// <summary>A pipeline stage: declared inputs, parameters and outputs, and one method that builds the outputs.</summary>
/// <remarks>The engine alone hashes, compares, records the lock entry and explains staleness.</remarks>
public interface IStage
{
    /// <summary>Lower-case stage name, the key in pipeline.lock.json ("labels", "records").</summary>
    string Name { get; }

    /// <summary>Bumped whenever a code change alters what the stage writes, so old outputs go stale.</summary>
    int ImplementationVersion { get; }

    /// <summary>What the stage reads and writes. Must be cheap: it runs on every status check.</summary>
    StageDeclaration Declare();

    /// <summary>Builds every declared output under <see cref="StageRun.OutputRoot"/>.</summary>
    void Run(StageRun run);
}
