using System.CommandLine;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>Options shared by the commands that work on a dataset, and the one place errors become exit codes.</summary>
internal static class CommonOptions
{
    public static Option<string> Dataset() => new("--dataset", "-d")
    {
        Description = "Dataset name (datasets/NAME) or path to a dataset folder or dataset.json",
        DefaultValueFactory = _ => "fashion-mnist",
    };

    public static Option<string?> Root() => new("--root")
    {
        Description = "Repository root holding datasets/ and artifacts/ (default: found from the current folder)",
    };

    public static Option<string?> Cache() => new("--cache")
    {
        Description = "Run-cache folder to restore stage outputs from and store them in, or an http(s):// remote cache (Bazel's HTTP protocol) behind artifacts/.cache (default: $PIPELINE_CACHE, else artifacts/.cache; \"off\" for none)",
    };

    public static Option<string?> Artifacts() => new("--artifacts")
    {
        Description = "Artifacts folder (default: artifacts/ under the repository root)",
    };

    public static Option<string[]> Set() => new("--set", "-S")
    {
        Description = "Set a parameter over dataset.json's, without editing it: FIELD=VALUE (e.g. train.learning_rate.base=0.004); repeatable",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>The --set values of one build; a comma list of values (a grid) is refused here, since only `exp run` runs several builds.</summary>
    public static IReadOnlyList<DatasetOverride> Overrides(ParseResult parse, Option<string[]> set) => DatasetOverride.ForOneBuild(parse.GetValue(set) ?? []);

    /// <summary>The --artifacts folder as a full path, or null for the default.</summary>
    public static string? ArtifactsRoot(ParseResult parse, Option<string?> artifacts) =>
        parse.GetValue(artifacts) is { } folder ? Path.GetFullPath(folder) : null;

    /// <summary>The nearest folder upwards holding Pipeline.sln, else the current folder.</summary>
    public static string FindRoot(string? given)
    {
        if (given is not null)
        {
            return Path.GetFullPath(given);
        }
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            {
                return dir.FullName;
            }
        }
        return Environment.CurrentDirectory;
    }

    /// <summary>Runs a command body: a failure a person can act on is one line on stderr and exit code 1.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (PipelineException e)
        {
            Console.Error.WriteLine(MSBuildError.Requested ? MSBuildError.Format(e) : $"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (DiskFull.Find(e) is { } full)
        {
            // A full disk outside a stage's run (the engine names the stage itself): still bad luck, not a bug.
            var error = DiskFull.Error(full, Environment.CurrentDirectory, DisplayPath.FromCurrentDirectory);
            Console.Error.WriteLine(MSBuildError.Requested ? MSBuildError.Format(error) : $"error: {error.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("PIPELINE_TRACE") is null)
        {
            // A bug, not bad input: still one line, with how to get the whole story.
            Console.Error.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message} (set PIPELINE_TRACE=1 for the stack trace)");
            return 70;
        }
    }
}
