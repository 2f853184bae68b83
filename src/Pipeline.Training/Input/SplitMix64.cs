namespace Pipeline.Training.Input;

/// <summary>Vigna's SplitMix64: a small generator whose sequence for a seed is fixed by this file, on every runtime.</summary>
/// <remarks>
/// Shuffles and augmentations must replay exactly on resume, on any machine and .NET version. System.Random(int)
/// is stable in practice but not promised, and System.HashCode is randomized per process, so seeds are derived
/// with this generator's own mixer and the sequence is ours to keep.
/// </remarks>
internal struct SplitMix64
{
    private const ulong Gamma = 0x9E3779B97F4A7C15;

    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>A generator for one purpose: the parts (seed, stream, epoch, position…) are mixed in order.</summary>
    public static SplitMix64 For(params ReadOnlySpan<long> parts)
    {
        var state = Gamma;
        foreach (var part in parts)
        {
            state = Mix((state ^ (ulong)part) + Gamma);
        }
        return new SplitMix64(state);
    }

    public ulong Next()
    {
        _state += Gamma;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, <paramref name="bound"/>) by Lemire's multiply-high (bias below 2^-32 for any int bound).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        return (int)Math.BigMul(Next(), (ulong)bound, out _);
    }

    /// <summary>The SplitMix64 finalizer: a bijection that scatters every input bit over the output.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
