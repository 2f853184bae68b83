using System.Text;
using Pipeline.Core.Build;
using Pipeline.Core.Images;
using Pipeline.Core.Records;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Input;
using Pipeline.Training.Models;
using Pipeline.Training.Tests.TestSupport;
using Pipeline.Training.Train;

namespace Pipeline.Training.Tests.Train;

/// <summary>The training loop itself, driven directly rather than through the Train stage.</summary>
[Collection(TorchRandomCollection.Name)]
public sealed class TrainerTests : IDisposable
{
    private const int Steps = 12;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <remarks>
    /// Counts tensors, not bytes (see <see cref="LiveTensors"/>); the loop runs on this thread. The first step may
    /// leave tensors behind (the optimizer's state is made then); every later one must leave as many as it found.
    /// </remarks>
    [Theory]
    [InlineData("adamw", false)]
    [InlineData("sgd", true)]
    public void Every_step_after_the_first_disposes_every_tensor_it_creates(string optimizer, bool nesterov)
    {
        var live = new LiveTensorsPerStep();
        var trainer = ShapesTrainer(optimizer, nesterov, new TrainingLog(new ProgressReporter(live, _ => { }, live: true), tensorboardDirectory: null));

        var result = trainer.Run(CancellationToken.None);
        result.Model.Dispose();

        Assert.Equal(Enumerable.Range(1, Steps), live.Counts.Keys);
        var afterFirst = live.Counts[1];
        Assert.True(live.Counts.Values.All(count => count == afterFirst),
            $"live tensors after each step: {string.Join(", ", live.Counts.Select(c => $"{c.Key}: {c.Value}"))}");
    }

    /// <summary>A trainer for <see cref="ShapesDataset"/>'s records that evaluates only after its last step.</summary>
    private Trainer ShapesTrainer(string optimizer, bool nesterov, TrainingLog log)
    {
        var name = ShapesDataset.Write(_dir);
        var pipeline = DatasetPipeline.Open(_dir.Path, name, _ => { }, laterStages: TrainingStages.All);
        pipeline.Run("labels", force: false);
        pipeline.Run("records", force: false);
        var train = pipeline.Dataset.Train with
        {
            TrainSteps = Steps,
            StepsPerEval = Steps,
            WeightDecay = 0.01,
            Optimizer = new() { Name = optimizer, Momentum = 0.9, Nesterov = nesterov },
        };
        var records = RecordsManifest.Read(Path.Combine(pipeline.ArtifactsDirectory, RecordsStage.Output));
        var input = InputSpec.From(train) with { Channels = ModelFactory.InputChannels(train) };
        var options = PipelineOptions.From(train, workers: 1);
        var trainData = new RecordPipeline(records.ShardPaths("train"), input, options);
        var evalData = new RecordPipeline(records.ShardPaths("test"), input, options with { Augment = null });
        var checkpoints = new CheckpointStore(_dir.Combine("checkpoints"), keep: 1, _ => { });
        return new Trainer(train, ShapesDataset.Classes.Length, trainData, evalData, checkpoints, lineage: "trainer-tests", log);
    }

    /// <summary>
    /// The progress bar's output, which the loop writes once after each step (outside the step's dispose scope):
    /// on each write, the number of tensors this thread holds.
    /// </summary>
    private sealed class LiveTensorsPerStep : TextWriter
    {
        public SortedDictionary<int, long> Counts { get; } = [];

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(string? value)
        {
            // "\r  [####....] step 3/12  …"
            var at = value?.IndexOf("] step ", StringComparison.Ordinal) ?? -1;
            if (at < 0)
            {
                return;
            }
            var number = value![(at + "] step ".Length)..].Split('/')[0];
            Counts[int.Parse(number, System.Globalization.CultureInfo.InvariantCulture)] = LiveTensors.Now;
        }
    }
}
