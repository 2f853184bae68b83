using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Core.Images;
using Pipeline.Core.Tests.TestSupport;
using Pipeline.Training.Models;
using Pipeline.Training.Tests.TestSupport;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests.Models;

[Collection(TorchRandomCollection.Name)]
public sealed class OnnxExporterTests
{
    [Theory]
    [InlineData("cnn", 1, 16)]
    [InlineData("cnn", 3, 20)]
    [InlineData("vgg7", 1, 28)]
    [InlineData("vgg7", 3, 18)]
    [InlineData("resnet8", 1, 28)]
    [InlineData("resnet20", 3, 32)]
    [InlineData("resnet18", 3, 32)]
    [InlineData("resnet50", 3, 32)]
    public void Onnx_graph_agrees_with_TorchSharp_on_every_probability(string architecture, int channels, int size)
    {
        const int classes = 5;
        torch.manual_seed(11);
        using var model = Trained(architecture, channels, size, classes);
        var input = new InputSpec(channels, size, [0.5f], [0.25f]);
        var onnx = OnnxExporter.Export(architecture, model.state_dict(), input, classes, []).ToByteArray();

        using var images = torch.randn(4, channels, size, size);
        float[] expected;
        using (torch.no_grad())
        using (var logits = model.forward(images))
        using (var probabilities = nn.functional.softmax(logits, 1))
        {
            expected = probabilities.data<float>().ToArray();
        }
        var actual = RunOnnx(onnx, images.data<float>().ToArray(), [4, channels, size, size]);

        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4, $"largest difference {worst}");
        // The weights are not trivial: the images are told apart.
        Assert.True(expected.Max() - expected.Min() > 1e-3);
    }

    [Theory]
    [InlineData("cnn", 1, 16)]
    [InlineData("resnet8", 3, 20)]
    [InlineData("vgg7", 1, 28)]
    public void With_flip_the_graph_averages_the_logits_of_each_image_and_its_mirror_as_TorchSharp_does(string architecture, int channels, int size)
    {
        const int classes = 4;
        torch.manual_seed(12);
        using var model = Trained(architecture, channels, size, classes);
        var input = new InputSpec(channels, size, [0.5f], [0.25f]);
        var onnx = OnnxExporter.Export(architecture, model.state_dict(), input, classes, [], flip: true).ToByteArray();

        // A ramp across the width makes every image far from its mirror image.
        using var ramp = torch.linspace(-4, 4, size);
        using var images = torch.randn(3, channels, size, size) + ramp;
        float[] flipped, alone;
        using (torch.no_grad())
        {
            using var averaged = nn.functional.softmax(Inference.Logits(model, images, flip: true), 1);
            using var plain = nn.functional.softmax(Inference.Logits(model, images, flip: false), 1);
            flipped = averaged.data<float>().ToArray();
            alone = plain.data<float>().ToArray();
        }
        var actual = RunOnnx(onnx, images.data<float>().ToArray(), [3, channels, size, size]);

        var agree = flipped.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        var apart = alone.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(agree <= 1e-4, $"largest difference from TorchSharp's flip average {agree}");
        // The mirror image changes the answer, by far more than the runtimes differ: agreeing above is not agreeing
        // with the network alone.
        Assert.True(apart > 100 * agree && apart > 1e-5, $"largest difference from the network alone {apart}, from the flip average {agree}");
    }

    [Fact]
    public void A_missing_weight_is_named()
    {
        using var model = ModelFactory.Create(new TrainParameters { Model = "cnn", Channels = 1, InputSize = 16 }, 3);
        var weights = model.state_dict().Where(p => p.Key != "fc2.bias").ToDictionary(p => p.Key, p => p.Value);

        var error = Assert.Throws<PipelineException>(() => OnnxExporter.Export("cnn", weights, new InputSpec(1, 16, [0f], [1f]), 3, []));

        Assert.Contains("fc2.bias", error.Message);
    }

    [Fact]
    public void A_weight_the_graph_does_not_use_is_named()
    {
        using var model = ModelFactory.Create(new TrainParameters { Model = "cnn", Channels = 1, InputSize = 16 }, 3);
        using var extra = torch.zeros(3);
        var weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value);
        weights["head.bias"] = extra;

        var error = Assert.Throws<PipelineException>(() => OnnxExporter.Export("cnn", weights, new InputSpec(1, 16, [0f], [1f]), 3, []));

        Assert.Contains("head.bias", error.Message);
    }

    [Fact]
    public void Safetensors_of_our_resnet18_load_into_TorchVision_resnet18_with_the_same_outputs()
    {
        using var dir = new TempDirectory();
        torch.manual_seed(5);
        using var ours = Trained("resnet18", 3, 32, 4);
        var path = dir.Combine("model.safetensors");
        ours.save_safetensors(path);

        using var theirs = torchvision.models.resnet18(num_classes: 4);
        theirs.load_safetensors(path, strict: true);
        theirs.eval();

        using var noGrad = torch.no_grad();
        using var images = torch.randn(2, 3, 32, 32);
        using var expected = ours.forward(images);
        using var actual = theirs.forward(images);
        Assert.True(expected.allclose(actual, rtol: 1e-5, atol: 1e-5));
    }

    /// <summary>
    /// The small ResNets' safetensors hold TorchVision's parameter names for the same roles ("conv1", "layer2.0.downsample.1",
    /// "fc"), only three stages of them, and load by name, strictly, into a fresh model with the same outputs.
    /// </summary>
    [Fact]
    public void Safetensors_of_a_small_resnet_load_by_name_into_a_fresh_one_with_the_same_outputs()
    {
        using var dir = new TempDirectory();
        torch.manual_seed(6);
        using var ours = Trained("resnet14", 1, 28, 10);
        var path = dir.Combine("model.safetensors");
        ours.save_safetensors(path);

        var names = ours.state_dict().Keys.ToList();
        Assert.Contains("layer3.1.conv2.weight", names);
        Assert.Contains("layer2.0.downsample.1.running_var", names);
        Assert.DoesNotContain(names, n => n.StartsWith("layer4.", StringComparison.Ordinal));
        Assert.Equal(new long[] { 16, 1, 3, 3 }, ours.state_dict()["conv1.weight"].shape);
        using var fresh = ModelFactory.Create(new TrainParameters { Model = "resnet14", Channels = 1, InputSize = 28 }, 10);
        fresh.load_safetensors(path, strict: true);
        fresh.eval();

        using var noGrad = torch.no_grad();
        using var images = torch.randn(2, 1, 28, 28);
        using var expected = ours.forward(images);
        using var actual = fresh.forward(images);
        Assert.True(expected.allclose(actual, rtol: 0, atol: 0));
    }

    [Fact]
    public void Safetensors_of_vgg7_name_its_layers_and_load_by_name_into_a_fresh_one_with_the_same_outputs()
    {
        using var dir = new TempDirectory();
        torch.manual_seed(7);
        using var ours = Trained("vgg7", 1, 28, 10);
        var path = dir.Combine("model.safetensors");
        ours.save_safetensors(path);

        var weights = ours.state_dict();
        Assert.Equal(new long[] { 96, 96, 3, 3 }, weights["conv5.weight"].shape);
        Assert.Equal(new long[] { 256, 96 * 7 * 7 }, weights["fc1.weight"].shape);
        Assert.Equal(new long[] { 10, 256 }, weights["fc2.weight"].shape);
        Assert.Contains("bn5.running_var", weights.Keys);
        using var fresh = ModelFactory.Create(new TrainParameters { Model = "vgg7", Channels = 1, InputSize = 28 }, 10);
        fresh.load_safetensors(path, strict: true);
        fresh.eval();

        using var noGrad = torch.no_grad();
        using var images = torch.randn(2, 1, 28, 28);
        using var expected = ours.forward(images);
        using var actual = fresh.forward(images);
        Assert.True(expected.allclose(actual, rtol: 0, atol: 0));
    }

    /// <summary>A model in evaluation mode whose batch-norm statistics have moved off their defaults, as after training.</summary>
    private static nn.Module<Tensor, Tensor> Trained(string architecture, int channels, int size, int classes)
    {
        var model = ModelFactory.Create(new TrainParameters { Model = architecture, Channels = channels, InputSize = size }, classes);
        model.train();
        using (torch.no_grad())
        {
            for (var i = 0; i < 3; i++)
            {
                using var batch = torch.randn(8, channels, size, size) * 2 + 0.5;
                using var _ = model.forward(batch);
            }
        }
        model.eval();
        return model;
    }

    private static float[] RunOnnx(byte[] model, float[] input, long[] shape)
    {
        using var session = new InferenceSession(model);
        using var tensor = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input"], [tensor], ["probabilities"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
