using Pipeline.Core.Datasets;

namespace Pipeline.Training.Input;

/// <summary>How <see cref="RecordPipeline"/> batches, shuffles, augments and parallelizes.</summary>
/// <param name="BatchSize">Examples per batch.</param>
/// <param name="ShuffleBuffer">Records held by the tf.data-style shuffle buffer; 0 or 1 keeps the interleaved order.</param>
/// <param name="Seed">Fixes the shuffle and the augmentation of every epoch.</param>
/// <param name="Augment">Augmentation for training batches, or null for none.</param>
/// <param name="Workers">Threads that decode and augment; 0 means one per core. Results do not depend on it.</param>
/// <param name="Prefetch">Batches decoded ahead of the consumer.</param>
public sealed record PipelineOptions(int BatchSize, int ShuffleBuffer, int Seed, AugmentSpec? Augment, int Workers, int Prefetch = 4)
{
    /// <summary>The options the train section of dataset.json gives, decoding on <paramref name="workers"/> threads.</summary>
    public static PipelineOptions From(TrainParameters train, int workers)
    {
        ArgumentNullException.ThrowIfNull(train);
        return new PipelineOptions(train.BatchSize, train.ShuffleBuffer, train.Seed, AugmentSpec.From(train.Augment), workers);
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(BatchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(ShuffleBuffer);
        ArgumentOutOfRangeException.ThrowIfNegative(Workers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Prefetch);
        if (Augment is { Translate: < 0 })
        {
            throw new ArgumentOutOfRangeException(nameof(Augment), Augment.Translate, "translate must not be negative");
        }
    }
}
