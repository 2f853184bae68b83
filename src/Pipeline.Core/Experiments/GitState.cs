using System.Diagnostics;

namespace Pipeline.Core.Experiments;

/// <summary>The commit a build ran at, and whether the checkout had changes not committed: what ties a run to a revision.</summary>
public sealed record GitState(string Commit, bool Dirty)
{
    /// <summary>The state of the checkout at <paramref name="root"/>; null when it is not a git checkout or git is missing.</summary>
    public static GitState? Read(string root)
    {
        var commit = Git(root, "rev-parse", "HEAD");
        if (commit is null || commit.Length < 40)
        {
            return null;
        }
        var changes = Git(root, "status", "--porcelain");
        return new GitState(commit[..40], changes is null || changes.Length > 0);
    }

    /// <summary>Resolves a revision ("HEAD~1", a tag, a short hash) to its full commit hash; null when git does not know it.</summary>
    public static string? Resolve(string root, string revision) =>
        revision.StartsWith('-') ? null : Git(root, "rev-parse", "--verify", "--quiet", revision + "^{commit}") is { Length: >= 40 } hash ? hash[..40] : null;

    private static string? Git(string root, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = root };
        start.ArgumentList.Add("-C");
        start.ArgumentList.Add(root);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            using var git = Process.Start(start)!;
            var errors = git.StandardError.ReadToEndAsync();
            var output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            _ = errors.Result;
            return git.ExitCode == 0 ? output.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
