using System.Collections;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Onnx.Proto;
using Pipeline.Training.Models;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Training.Transfer;

/// <summary>
/// A state dict file to transfer from: PyTorch's pickle format (.pt, .pth, as torch.save(model.state_dict()) writes
/// it) or safetensors, read by TorchSharp.PyBridge, checked key by key against one of our architectures (TorchVision's
/// names for the ResNets) and written to ONNX by our exporter.
/// </summary>
internal static class StateDictFile
{
    /// <summary>How many names of each kind a mismatch report lists before "and N more".</summary>
    private const int Listed = 8;

    /// <exception cref="PipelineException">Unreadable, or its keys or shapes do not fit the architecture (each listed).</exception>
    public static ModelProto ToOnnx(string path, string architecture, InputSpec input)
    {
        var weights = Read(path);
        try
        {
            var classifier = architecture == "cnn" ? "fc2.weight" : "fc.weight";
            var classes = weights.TryGetValue(classifier, out var fc) && fc.shape.Length == 2 ? (int)fc.shape[0] : 1;
            using var model = ModelFactory.Create(new TrainParameters { Model = architecture, Channels = input.Channels, InputSize = input.Size }, classes);
            Check(path, architecture, weights, model.state_dict());
            return OnnxExporter.Export(architecture, weights, input, classes, []);
        }
        finally
        {
            foreach (var tensor in weights.Values)
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>The file's tensors by name; the caller disposes them.</summary>
    internal static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new PipelineException("the weights file transfer.from names does not exist", path);
        }
        try
        {
            if (Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                return Safetensors.LoadStateDict(path);
            }
            var table = PyTorchUnpickler.UnpickleStateDict(path);
            var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (DictionaryEntry entry in table)
            {
                weights[(string)entry.Key] = entry.Value as Tensor
                    ?? throw new InvalidDataException($"\"{entry.Key}\" holds a {entry.Value?.GetType().Name ?? "null"}, not a tensor: save model.state_dict(), not the model or a training checkpoint");
            }
            return weights;
        }
        catch (Exception e) when (e is not PipelineException and not OutOfMemoryException)
        {
            throw new PipelineException($"cannot read it as a state dict ({e.Message}); transfer needs torch.save(model.state_dict(), PATH) or a safetensors file", path, e);
        }
    }

    /// <summary>Refuses a state dict that does not fit, naming every missing and unexpected key and every shape that differs.</summary>
    /// <remarks>num_batches_tracked is left out on both sides: older PyTorch did not save it, and inference does not read it.</remarks>
    internal static void Check(string path, string architecture, IReadOnlyDictionary<string, Tensor> file, IReadOnlyDictionary<string, Tensor> expected)
    {
        static bool Counted(string key) => !key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);
        var missing = expected.Keys.Where(k => Counted(k) && !file.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = file.Keys.Where(k => Counted(k) && !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var shapes = expected.Keys.Where(k => Counted(k) && file.ContainsKey(k) && !file[k].shape.SequenceEqual(expected[k].shape))
            .Order(StringComparer.Ordinal)
            .Select(k => $"{k} is [{string.Join(", ", file[k].shape)}] in the file, [{string.Join(", ", expected[k].shape)}] in {architecture}")
            .ToList();
        if (missing.Count + unexpected.Count + shapes.Count == 0)
        {
            return;
        }
        var problems = new List<string>();
        if (missing.Count > 0)
        {
            problems.Add($"{missing.Count} missing key{(missing.Count == 1 ? "" : "s")}: {List(missing, ", ")}");
        }
        if (unexpected.Count > 0)
        {
            problems.Add($"{unexpected.Count} unexpected key{(unexpected.Count == 1 ? "" : "s")}: {List(unexpected, ", ")}");
        }
        if (shapes.Count > 0)
        {
            problems.Add($"{shapes.Count} shape{(shapes.Count == 1 ? " differs" : "s differ")}: {List(shapes, "; ")}");
        }
        throw new PipelineException($"the state dict does not fit {architecture} (transfer.architecture). {string.Join(". ", problems)}", path);
    }

    private static string List(IReadOnlyList<string> items, string separator) =>
        string.Join(separator, items.Take(Listed)) + (items.Count > Listed ? $"{separator}and {items.Count - Listed} more" : "");
}
