using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Models;

namespace Pipeline.Training.Tests.TestSupport;

/// <summary>A cnn's seeded initial weights as a safetensors file: a backbone to transfer from that needs no download.</summary>
internal static class CnnStateDict
{
    /// <summary>transfer keys describing the network <see cref="Write"/> saves.</summary>
    public const string TransferInput = "\"architecture\": \"cnn\", \"input_size\": 16, \"normalization\": { \"mean\": [0.2], \"std\": [0.35] },";

    /// <summary>Writes weights/cnn.safetensors and returns transfer.from for it.</summary>
    public static string Write(TempDirectory dir)
    {
        TorchSharp.torch.manual_seed(7);
        using var cnn = ModelFactory.Create(FixedModel.Parameters, ShapesDataset.Classes.Length);
        TorchSharp.PyBridge.PyBridgeModuleExtensions.save_safetensors(cnn, dir.Combine("weights/cnn.safetensors"));
        return "weights:../../weights/cnn.safetensors";
    }
}
