namespace Pipeline.Core.Datasets;

/// <summary>The "train" section of dataset.json: the model, its input, and how to train it.</summary>
public sealed record TrainParameters
{
    /// <summary>"cnn" (the labs' two-convolution network), "vgg7" (five 3×3 convolutions and two linear layers, for small images on CPUs), a small ResNet for small images ("resnet8", "resnet14", "resnet20": He et al.'s 6n + 2 layers, 16-32-64 channels), or TorchVision's "resnet18", "resnet34", "resnet50".</summary>
    public string Model { get; init; } = "cnn";

    /// <summary>Images are resized to this square size (pixels) before augmentation.</summary>
    public int InputSize { get; init; } = 28;

    /// <summary>Channels the model reads: 1 (grayscale) or 3 (RGB); images are converted to it.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Per-channel mean and standard deviation of pixel values in [0, 1], subtracted and divided.</summary>
    public NormalizationParameters Normalization { get; init; } = new();

    public AugmentParameters Augment { get; init; } = new();

    public int BatchSize { get; init; } = 128;

    /// <summary>Total optimizer steps; growing only this continues from the last checkpoint.</summary>
    public int TrainSteps { get; init; } = 1000;

    /// <summary>Instead of train_steps: this many passes over the train split (steps = epochs × examples / batch size).</summary>
    public int? Epochs { get; init; }

    /// <summary>Evaluate on the held-out split and write a checkpoint every this many steps.</summary>
    public int StepsPerEval { get; init; } = 500;

    /// <summary>The held-out split evaluated during training; default "validation" if the dataset has one, else "test".</summary>
    public string? EvalSplit { get; init; }

    public OptimizerParameters Optimizer { get; init; } = new();

    public LearningRateParameters LearningRate { get; init; } = new();

    public double WeightDecay { get; init; } = 1e-4;

    public double LabelSmoothing { get; init; }

    public int Seed { get; init; } = 42;

    /// <summary>Threads for the model's math, in each process of a distributed training; 0 means the cores shared out over the processes.</summary>
    public int Threads { get; init; }

    /// <summary>Examples held in the shuffle buffer, as tf.data's shuffle does.</summary>
    public int ShuffleBuffer { get; init; } = 1024;

    /// <summary>How many of the newest checkpoints to keep.</summary>
    public int KeepCheckpoints { get; init; } = 3;

    /// <summary>Data-parallel training over MPI: how many processes, and what starts them.</summary>
    public DistributedParameters Distributed { get; init; } = new();
}

/// <summary>
/// Data-parallel training (train.distributed): the processes each take an equal share of every batch and average their
/// gradients with MPI_Allreduce, so they take the steps one process taking whole batches would.
/// </summary>
public sealed record DistributedParameters
{
    public static readonly IReadOnlyList<string> Launchers = ["mpirun", "srun", "none"];

    /// <summary>MPI processes (ranks) that train together; 1 trains in the build's own process. Each takes batch_size / processes examples of every batch.</summary>
    public int Processes { get; init; } = 1;

    /// <summary>
    /// What starts the ranks: "mpirun" (Open MPI, on this machine or the hosts its arguments name), "srun" (Slurm, with
    /// --mpi=pmix), or "none" (the build is itself one rank of a job someone else launched, as an MPIJob's launcher does).
    /// </summary>
    public string Launcher { get; init; } = "mpirun";

    /// <summary>Arguments for the launcher before the program, e.g. ["--hostfile", "hosts"] or ["--partition", "gpu"]. They do not change the results.</summary>
    public IReadOnlyList<string> LauncherArgs { get; init; } = [];
}

/// <summary>Per-channel normalization of pixel values in [0, 1].</summary>
public sealed record NormalizationParameters
{
    public IReadOnlyList<double> Mean { get; init; } = [0.5];

    public IReadOnlyList<double> Std { get; init; } = [0.5];
}

/// <summary>Random augmentation applied to training images only.</summary>
public sealed record AugmentParameters
{
    /// <summary>Mirror left-right with probability one half.</summary>
    public bool Flip { get; init; }

    /// <summary>Shift by up to this many pixels in each direction (zero padding), like a random crop of a padded image.</summary>
    public int Translate { get; init; }
}

/// <summary>"sgd" (with momentum, optionally Nesterov) or "adamw".</summary>
public sealed record OptimizerParameters
{
    /// <summary>The optimizers the Train stage implements.</summary>
    public static readonly IReadOnlyList<string> Names = ["sgd", "adamw"];

    public string Name { get; init; } = "adamw";

    public double Momentum { get; init; } = 0.9;

    public bool Nesterov { get; init; }
}

/// <summary>The learning rate and its schedule over the training steps.</summary>
public sealed record LearningRateParameters
{
    /// <summary>The schedules the Train stage implements.</summary>
    public static readonly IReadOnlyList<string> Schedules = ["constant", "step", "cosine"];

    public double Base { get; init; } = 1e-3;

    /// <summary>"constant", "step" (multiply by decay_rate at each of decay_steps) or "cosine" (to zero at train_steps).</summary>
    public string Schedule { get; init; } = "cosine";

    /// <summary>Linear warm-up from zero over this many steps, before the schedule.</summary>
    public int WarmupSteps { get; init; }

    public IReadOnlyList<int> DecaySteps { get; init; } = [];

    public double DecayRate { get; init; } = 0.1;
}
