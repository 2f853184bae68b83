namespace Pipeline.Core.Engine;

/// <summary>
/// A stage's new outputs renamed into place, the ones they replace set aside: until the lock file records the new
/// ones, <see cref="Undo"/> puts the previous outputs back.
/// </summary>
internal sealed class OutputReplacement
{
    private readonly List<(string Source, string Target, string? Aside)> _moves = [];
    private readonly string _trash;

    private OutputReplacement(string trash) => _trash = trash;

    /// <summary>Renames each output from <paramref name="temp"/> into <paramref name="artifacts"/>, setting aside what it replaces.</summary>
    /// <remarks>A rename that fails undoes the ones before it, so the outputs are all new or all as they were.</remarks>
    public static OutputReplacement Move(string temp, string artifacts, IReadOnlyList<string> outputs, string trash)
    {
        var replacement = new OutputReplacement(trash);
        try
        {
            foreach (var output in outputs)
            {
                var source = Path.Combine(temp, output);
                var target = Path.Combine(artifacts, output);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                string? aside = null;
                if (File.Exists(target) || Directory.Exists(target))
                {
                    aside = Path.Combine(trash, output);
                    Directory.CreateDirectory(Path.GetDirectoryName(aside)!);
                    Directory.Move(target, aside);
                }
                replacement._moves.Add((source, target, aside));
                Directory.Move(source, target);
            }
        }
        catch
        {
            replacement.Undo();
            throw;
        }
        return replacement;
    }

    /// <summary>Puts the previous outputs back and the new ones where they came from; true when every rename succeeded.</summary>
    public bool Undo()
    {
        var complete = true;
        foreach (var (source, target, aside) in Enumerable.Reverse(_moves))
        {
            try
            {
                if ((File.Exists(target) || Directory.Exists(target)) && !File.Exists(source) && !Directory.Exists(source))
                {
                    Directory.Move(target, source);
                }
                if (aside is not null && (File.Exists(aside) || Directory.Exists(aside)))
                {
                    Directory.Move(aside, target);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                complete = false;
            }
        }
        _moves.Clear();
        return complete;
    }

    /// <summary>Starts deleting the replaced outputs, now that nothing will put them back; null when none were replaced.</summary>
    public Task? DeleteReplaced()
    {
        _moves.Clear();
        return Directory.Exists(_trash) ? Task.Run(() => Directory.Delete(_trash, recursive: true)) : null;
    }
}
