using Pipeline.Core.Datasets;

namespace Pipeline.Training.Input;

/// <summary>Random augmentation of training images: a left-right mirror and an integer shift with zero fill.</summary>
/// <param name="Flip">Mirror left-right with probability one half.</param>
/// <param name="Translate">Shift by dx, dy drawn uniformly from [-Translate, Translate], filling with black.</param>
public sealed record AugmentSpec(bool Flip, int Translate)
{
    /// <summary>The augmentation dataset.json asks for, or null when it asks for none.</summary>
    public static AugmentSpec? From(AugmentParameters augment)
    {
        ArgumentNullException.ThrowIfNull(augment);
        return augment.Flip || augment.Translate > 0 ? new AugmentSpec(augment.Flip, augment.Translate) : null;
    }
}
