namespace Pipeline.Core.Engine;

/// <summary>The engine's verdict on one stage, with reasons in a person's words.</summary>
public sealed record StageStatus(string Stage, bool IsFresh, IReadOnlyList<string> Reasons, string Fingerprint)
{
    /// <summary>One line: the reasons joined, shortened when there are many.</summary>
    public string Summary
    {
        get
        {
            const int shown = 3;
            var text = string.Join("; ", Reasons.Take(shown));
            return Reasons.Count > shown ? $"{text}; and {Reasons.Count - shown} more" : text;
        }
    }
}
