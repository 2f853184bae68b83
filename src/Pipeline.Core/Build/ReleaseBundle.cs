using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Core.Engine;

namespace Pipeline.Core.Build;

/// <summary>
/// artifacts/&lt;dataset&gt;/release/: what a release ships and what proves how it was built: the latest export, the
/// evaluated metrics and smoke report, the lock file (every stage's fingerprint, inputs and outputs), the build
/// environment, and SHA256SUMS of every file in it (checkable with `sha256sum -c SHA256SUMS`). Written whole into a
/// temporary folder and renamed into place. Nothing in it holds a clock or a path outside the bundle, so two clean
/// builds from one commit on one machine give identical bundles.
/// </summary>
public static class ReleaseBundle
{
    public const string Folder = "release";
    public const string Manifest = "SHA256SUMS";

    /// <param name="environment">Tool versions and settings the build ran with (runtime, packages, threads).</param>
    /// <returns>The bundle's folder.</returns>
    public static string Write(string artifactsDirectory, JsonObject environment)
    {
        var export = Path.Combine(artifactsDirectory, "export");
        var latestPointer = Path.Combine(export, "latest");
        if (!File.Exists(latestPointer))
        {
            throw new PipelineException("there is no export to release; build the chain first (./build.sh)", DisplayPath.FromCurrentDirectory(export));
        }
        var version = File.ReadAllText(latestPointer).Trim();
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["pipeline.lock.json"] = Path.Combine(artifactsDirectory, LockFile.FileName),
            ["eval/metrics.json"] = Path.Combine(artifactsDirectory, "eval", "metrics.json"),
            ["smoke/report.json"] = Path.Combine(artifactsDirectory, "smoke", "report.json"),
        };
        foreach (var file in Directory.GetFiles(Path.Combine(export, version)))
        {
            files[$"model/{Path.GetFileName(file)}"] = file;
        }
        var missing = files.Where(f => !File.Exists(f.Value)).Select(f => f.Key).ToList();
        if (missing.Count > 0)
        {
            throw new PipelineException($"the chain is not built through SmokePredict ({string.Join(", ", missing)} missing); run ./build.sh first",
                DisplayPath.FromCurrentDirectory(artifactsDirectory));
        }

        var target = Path.Combine(artifactsDirectory, Folder);
        var temp = Path.Combine(artifactsDirectory, ".tmp", $"release-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            foreach (var (relative, source) in files)
            {
                var destination = Path.Combine(temp, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(source, destination);
            }
            var environmentJson = (JsonObject)environment.DeepClone();
            environmentJson["model_version"] = version;
            File.WriteAllText(Path.Combine(temp, "environment.json"), CanonicalJson.Serialize(environmentJson, indented: true));
            var sums = new StringBuilder();
            foreach (var file in Directory.GetFiles(temp, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(temp, f).Replace('\\', '/')).Order(StringComparer.Ordinal))
            {
                using var stream = File.OpenRead(Path.Combine(temp, file));
                sums.Append(Convert.ToHexStringLower(SHA256.HashData(stream))).Append("  ").Append(file).Append('\n');
            }
            File.WriteAllText(Path.Combine(temp, Manifest), sums.ToString());
            var aside = target + $".old-{Guid.NewGuid():N}";
            if (Directory.Exists(target))
            {
                Directory.Move(target, aside);
            }
            Directory.Move(temp, target);
            if (Directory.Exists(aside))
            {
                Directory.Delete(aside, recursive: true);
            }
            return target;
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }
}
