using Pipeline.Training.Input;

namespace Pipeline.Training.Tests.Input;

public sealed class ShuffleBufferTests
{
    private static readonly int[] Input = [.. Enumerable.Range(0, 100)];

    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(1000)]
    public void Output_is_a_permutation_of_the_input(int capacity)
    {
        var output = ShuffleBuffer.Shuffle(Input, capacity, new SplitMix64(5)).ToList();

        Assert.Equal(Input, output.Order());
        Assert.NotEqual(Input, output);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_buffer_of_one_keeps_the_order(int capacity)
    {
        Assert.Equal(Input, ShuffleBuffer.Shuffle(Input, capacity, new SplitMix64(5)));
    }

    [Fact]
    public void An_item_is_never_emitted_before_it_could_have_entered_the_buffer()
    {
        // Output j is emitted once input j + capacity − 1 has been read, as tf.data's shuffle does.
        const int capacity = 8;
        var output = ShuffleBuffer.Shuffle(Input, capacity, new SplitMix64(11)).ToList();

        Assert.All(Enumerable.Range(0, output.Count), j => Assert.InRange(output[j], 0, j + capacity - 1));
        // A small window leaves the order locally mixed but globally intact.
        Assert.True(output.Take(50).Average() < output.Skip(50).Average());
    }

    [Fact]
    public void The_order_is_a_function_of_the_generator()
    {
        var first = ShuffleBuffer.Shuffle(Input, 16, new SplitMix64(3)).ToList();

        Assert.Equal(first, ShuffleBuffer.Shuffle(Input, 16, new SplitMix64(3)));
        Assert.NotEqual(first, ShuffleBuffer.Shuffle(Input, 16, new SplitMix64(4)));
    }
}
