using Pipeline.Core.Datasets;

namespace Pipeline.Training.Train;

/// <summary>The learning rate at each step: linear warm-up, then constant, step decay or cosine decay to zero.</summary>
public sealed class LearningRateSchedule
{
    private readonly LearningRateParameters _parameters;
    private readonly int _totalSteps;

    public LearningRateSchedule(LearningRateParameters parameters, int totalSteps)
    {
        // dataset.json's schedule is checked when it is loaded; another name here is a bug.
        if (!LearningRateParameters.Schedules.Contains(parameters.Schedule))
        {
            throw new ArgumentOutOfRangeException(nameof(parameters), parameters.Schedule, $"schedules: {string.Join(", ", LearningRateParameters.Schedules)}");
        }
        _parameters = parameters;
        _totalSteps = totalSteps;
    }

    /// <summary>The rate for the optimizer step that takes the model from <paramref name="step"/> to step + 1.</summary>
    public double At(int step)
    {
        var warmup = _parameters.WarmupSteps;
        if (step < warmup)
        {
            return _parameters.Base * (step + 1) / warmup;
        }
        return _parameters.Schedule switch
        {
            "step" => _parameters.Base * Math.Pow(_parameters.DecayRate, _parameters.DecaySteps.Count(s => step >= s)),
            "cosine" => _parameters.Base * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1.0, (double)(step - warmup) / Math.Max(1, _totalSteps - warmup)))),
            _ => _parameters.Base,
        };
    }
}
