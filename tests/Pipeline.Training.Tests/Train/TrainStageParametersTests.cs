using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Training.Train;

namespace Pipeline.Training.Tests.Train;

/// <summary>What of the train section the Train stage's fingerprint holds.</summary>
public sealed class TrainStageParametersTests
{
    /// <summary>
    /// A training of one process has exactly the parameters it had before train.distributed existed (this text is
    /// the default train section as the stage hashed it then), so no build already made goes stale.
    /// </summary>
    [Fact]
    public void One_process_has_the_parameters_it_had_before_training_could_be_distributed()
    {
        var parameters = TrainStage.Parameters(new TrainParameters { Distributed = new DistributedParameters { Launcher = "srun", LauncherArgs = ["-p", "x"] } });

        Assert.Equal(
            "{\"augment\":{\"flip\":false,\"translate\":0},\"batch_size\":128,\"channels\":1,\"input_size\":28,\"keep_checkpoints\":3,\"label_smoothing\":0,"
            + "\"learning_rate\":{\"base\":0.001,\"decay_rate\":0.1,\"decay_steps\":[],\"schedule\":\"cosine\",\"warmup_steps\":0},\"model\":\"cnn\","
            + "\"normalization\":{\"mean\":[0.5],\"std\":[0.5]},\"optimizer\":{\"momentum\":0.9,\"name\":\"adamw\",\"nesterov\":false},\"seed\":42,"
            + "\"shuffle_buffer\":1024,\"steps_per_eval\":500,\"threads\":0,\"train_steps\":1000,\"weight_decay\":0.0001}",
            CanonicalJson.Serialize(parameters));
    }

    [Fact]
    public void Several_processes_count_by_their_number_and_not_by_what_starts_them()
    {
        TrainParameters Train(string launcher, params string[] args) =>
            new() { Distributed = new DistributedParameters { Processes = 4, Launcher = launcher, LauncherArgs = args } };

        var mpirun = CanonicalJson.Serialize(TrainStage.Parameters(Train("mpirun")));

        Assert.Contains("\"distributed\":{\"processes\":4}", mpirun, StringComparison.Ordinal);
        Assert.Equal(mpirun, CanonicalJson.Serialize(TrainStage.Parameters(Train("srun", "--partition", "gpu"))));
        Assert.Equal(mpirun, CanonicalJson.Serialize(TrainStage.Parameters(Train("none"))));
        Assert.NotEqual(mpirun, CanonicalJson.Serialize(TrainStage.Parameters(Train("mpirun") with { Distributed = new DistributedParameters { Processes = 2 } })));
    }
}
