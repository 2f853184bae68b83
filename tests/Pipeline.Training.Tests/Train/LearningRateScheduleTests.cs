using Pipeline.Core.Datasets;
using Pipeline.Training.Train;

namespace Pipeline.Training.Tests.Train;

public sealed class LearningRateScheduleTests
{
    [Fact]
    public void Warm_up_rises_linearly_to_the_base_rate()
    {
        var schedule = new LearningRateSchedule(new LearningRateParameters { Base = 0.1, Schedule = "constant", WarmupSteps = 4 }, 100);

        double[] expected = [0.025, 0.05, 0.075, 0.1, 0.1];
        for (var step = 0; step < expected.Length; step++)
        {
            Assert.Equal(expected[step], schedule.At(step), 12);
        }
    }

    [Fact]
    public void Step_schedule_multiplies_by_the_decay_rate_at_each_decay_step()
    {
        var schedule = new LearningRateSchedule(new LearningRateParameters { Base = 1, Schedule = "step", DecaySteps = [10, 20], DecayRate = 0.1 }, 30);

        Assert.Equal(1, schedule.At(9), 12);
        Assert.Equal(0.1, schedule.At(10), 12);
        Assert.Equal(0.01, schedule.At(25), 12);
    }

    [Fact]
    public void Cosine_schedule_falls_from_the_base_rate_to_zero_at_the_last_step()
    {
        var schedule = new LearningRateSchedule(new LearningRateParameters { Base = 0.2, Schedule = "cosine", WarmupSteps = 10 }, 110);

        Assert.Equal(0.2, schedule.At(10), 12);
        Assert.Equal(0.1, schedule.At(60), 12);
        Assert.Equal(0, schedule.At(110), 12);
    }
}
