using Pipeline.Core.Build;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Tests.TestSupport;

namespace Pipeline.Training.Tests.Transfer;

/// <summary>The transfer dataset's Train stage: the head on cached bottlenecks, then, if asked, fine-tuning (FineTuner, called from here).</summary>
[Collection(TorchRandomCollection.Name)]
public sealed class HeadTrainerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<string> _log = [];

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// A shapes transfer dataset from a cnn state dict, training the head <paramref name="headSteps"/> steps with
    /// <paramref name="transfer"/> added to its transfer section, evaluating only after the last step, built as far
    /// as the bottlenecks.
    /// </summary>
    private DatasetPipeline Transfer(int headSteps, string transfer = "")
    {
        var name = ShapesDataset.WriteTransfer(_dir, perClass: 2, from: CnnStateDict.Write(_dir), transfer: CnnStateDict.TransferInput + transfer);
        var path = _dir.Combine($"datasets/{name}/dataset.json");
        var text = File.ReadAllText(path);
        Assert.Contains("\"train_steps\": 100, \"batch_size\": 8, \"steps_per_eval\": 50,", text);
        File.WriteAllText(path, text.Replace("\"train_steps\": 100, \"batch_size\": 8, \"steps_per_eval\": 50,",
            $"\"train_steps\": {headSteps}, \"batch_size\": 8, \"steps_per_eval\": 1000,", StringComparison.Ordinal));
        var pipeline = DatasetPipeline.Open(_dir.Path, name, _log.Add, laterStages: TrainingStages.All);
        foreach (var stage in pipeline.Chain("bottlenecks"))
        {
            pipeline.Engine.Run(stage);
        }
        return pipeline;
    }

    private static long LeftByTraining(DatasetPipeline pipeline) =>
        LiveTensors.LeftBy(() => pipeline.Engine.Run(pipeline.Stage("train"), force: true));

    /// <remarks>
    /// The loop reports nothing per step that a test could hook, so whole runs are compared: the same stage with more
    /// steps must leave as many tensors alive as with fewer (a tensor a step would leave 30 more).
    /// </remarks>
    [Fact]
    public void Head_training_steps_after_the_first_leave_no_tensor_alive()
    {
        var few = LeftByTraining(Transfer(headSteps: 5));
        var many = LeftByTraining(Transfer(headSteps: 35));

        Assert.Contains(_log, l => l.Contains("trained the head 5 steps", StringComparison.Ordinal));
        Assert.Contains(_log, l => l.Contains("trained the head 35 steps", StringComparison.Ordinal));
        Assert.Equal(few, many);
    }

    [Fact]
    public void Fine_tuning_steps_after_the_first_leave_no_tensor_alive()
    {
        var few = LeftByTraining(Transfer(headSteps: 5, "\"fine_tune\": { \"steps\": 3, \"batch_size\": 6 },"));
        var many = LeftByTraining(Transfer(headSteps: 5, "\"fine_tune\": { \"steps\": 13, \"batch_size\": 6 },"));

        Assert.Contains(_log, l => l.Contains("fine-tune step 3: train accuracy", StringComparison.Ordinal));
        Assert.Contains(_log, l => l.Contains("fine-tune step 13: train accuracy", StringComparison.Ordinal));
        Assert.Equal(few, many);
    }
}
