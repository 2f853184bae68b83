using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Pipeline.Cli.Composition;
using Pipeline.Core.Build;
using Pipeline.Core.Engine;

namespace Pipeline.Cli.Commands;

/// <summary>`pipeline release`: the release bundle of a dataset whose chain is built (the Release target runs it after SmokePredict).</summary>
internal static class ReleaseCommand
{
    public static Command Create()
    {
        var dataset = CommonOptions.Dataset();
        var root = CommonOptions.Root();
        var command = new Command("release", "Write artifacts/DATASET/release/: the latest export, metrics, smoke report, lock file, build environment and SHA256SUMS")
        {
            dataset, root,
        };
        command.SetAction(parse => CommonOptions.Guard(() =>
        {
            var pipeline = Chain.Open(CommonOptions.FindRoot(parse.GetValue(root)), parse.GetValue(dataset)!, Console.WriteLine);
            // Under the artifacts lock: no build may replace a stage's outputs (or empty .tmp/) while the bundle is assembled.
            using var held = pipeline.Lock(Console.WriteLine);
            var stale = pipeline.Status().Where(s => !s.IsFresh).ToList();
            if (stale.Count > 0)
            {
                throw new PipelineException($"{string.Join(", ", stale.Select(s => DatasetPipeline.Title(s.Stage)))} not up to date ({stale[0].Summary}); build the chain first: ./build.sh");
            }
            var folder = ReleaseBundle.Write(pipeline.ArtifactsDirectory, Environment(pipeline));
            Console.WriteLine($"release bundle: {DisplayPath.FromCurrentDirectory(folder)} (check it with: cd {DisplayPath.FromCurrentDirectory(folder)} && sha256sum -c {ReleaseBundle.Manifest})");
            return 0;
        }));
        return command;
    }

    /// <summary>What the build ran on and with: the same on one machine, build after build; a second machine differs here.</summary>
    private static JsonObject Environment(DatasetPipeline pipeline) => new()
    {
        ["dataset"] = pipeline.Dataset.Name,
        ["dotnet"] = System.Environment.Version.ToString(),
        ["os"] = RuntimeInformation.OSDescription,
        ["architecture"] = RuntimeInformation.OSArchitecture.ToString(),
        ["processors"] = System.Environment.ProcessorCount,
        ["train_threads"] = pipeline.Dataset.Train.Threads,
        ["packages"] = new JsonObject
        {
            ["TorchSharp"] = Version(typeof(TorchSharp.torch)),
            ["Microsoft.ML.OnnxRuntime"] = Version(typeof(Microsoft.ML.OnnxRuntime.InferenceSession)),
            ["SixLabors.ImageSharp"] = Version(typeof(SixLabors.ImageSharp.Image)),
            ["Google.Protobuf"] = Version(typeof(Google.Protobuf.MessageParser)),
            ["pipeline"] = Version(typeof(ReleaseCommand)),
        },
    };

    private static string Version(Type type) =>
        type.Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false) is [System.Reflection.AssemblyInformationalVersionAttribute info, ..]
            ? info.InformationalVersion.Split('+')[0]
            : type.Assembly.GetName().Version?.ToString() ?? "unknown";
}
