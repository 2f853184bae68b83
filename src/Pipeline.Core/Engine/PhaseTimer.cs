using System.Diagnostics;

namespace Pipeline.Core.Engine;

/// <summary>
/// Where a stage run's time went (the check, the stage itself, the engine's bookkeeping), printed after the run
/// when PIPELINE_TIMINGS=1: for finding what a fast stage spends beyond its own work.
/// </summary>
internal sealed class PhaseTimer
{
    public const string EnvironmentVariable = "PIPELINE_TIMINGS";

    private readonly Stopwatch _clock;
    private readonly List<(string Phase, TimeSpan Elapsed)>? _phases;
    private TimeSpan _last;

    public PhaseTimer(Stopwatch clock)
    {
        _clock = clock;
        _phases = Environment.GetEnvironmentVariable(EnvironmentVariable) == "1" ? [] : null;
    }

    public void Mark(string phase)
    {
        if (_phases is null)
        {
            return;
        }
        var now = _clock.Elapsed;
        _phases.Add((phase, now - _last));
        _last = now;
    }

    public void Report(string stage, Action<string> log)
    {
        if (_phases is not null)
        {
            log($"  {stage} timings: {string.Join(", ", _phases.Select(p => $"{p.Phase} {p.Elapsed.TotalMilliseconds:0} ms"))}");
        }
    }
}
