namespace Pipeline.Training.Input;

/// <summary>tf.data's shuffle: a window of records from which a random one is emitted as each new one arrives.</summary>
internal static class ShuffleBuffer
{
    /// <summary>
    /// Fills a buffer of <paramref name="capacity"/> items; then, for each further item, emits a random slot and puts
    /// the newcomer there; at the end, emits what is left in random order. A capacity of 0 or 1 keeps the order.
    /// </summary>
    public static IEnumerable<T> Shuffle<T>(IEnumerable<T> source, int capacity, SplitMix64 random)
    {
        if (capacity <= 1)
        {
            foreach (var item in source)
            {
                yield return item;
            }
            yield break;
        }

        var buffer = new List<T>(Math.Min(capacity, 4096));
        foreach (var item in source)
        {
            if (buffer.Count < capacity)
            {
                buffer.Add(item);
                continue;
            }
            var slot = random.NextInt(capacity);
            yield return buffer[slot];
            buffer[slot] = item;
        }
        while (buffer.Count > 0)
        {
            var slot = random.NextInt(buffer.Count);
            yield return buffer[slot];
            var last = buffer.Count - 1;
            buffer[slot] = buffer[last];
            buffer.RemoveAt(last);
        }
    }
}
