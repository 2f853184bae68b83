namespace Pipeline.Training.Input;

/// <summary>The random transform of one training image: mirror left-right, then shift by (Dx, Dy) with zero fill.</summary>
/// <param name="Dx">Pixels to the right (negative: left).</param>
/// <param name="Dy">Pixels down (negative: up).</param>
internal readonly record struct Augmentation(bool Flip, int Dx, int Dy)
{
    /// <summary>Separates augmentation draws from the shuffle's, which use the same seed.</summary>
    internal const long Stream = 2;

    /// <summary>The image as it is.</summary>
    public static readonly Augmentation None = default;

    /// <summary>
    /// The transform of the example at <paramref name="position"/> of epoch <paramref name="epoch"/>: a function of
    /// (seed, epoch, position) alone, so it does not depend on which thread decodes the example, or when.
    /// </summary>
    public static Augmentation Draw(AugmentSpec? spec, int seed, long epoch, long position)
    {
        if (spec is null)
        {
            return None;
        }
        var random = SplitMix64.For(seed, Stream, epoch, position);
        // All three are always drawn, so switching one kind off leaves the other's draws as they were.
        var flip = (random.Next() >> 63) != 0;
        var range = 2 * spec.Translate + 1;
        var dx = random.NextInt(range) - spec.Translate;
        var dy = random.NextInt(range) - spec.Translate;
        return new Augmentation(spec.Flip && flip, dx, dy);
    }
}
