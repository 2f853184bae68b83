using Pipeline.Training.Models;
using Pipeline.Training.Tests.TestSupport;
using TorchSharp;

namespace Pipeline.Training.Tests.Models;

[Collection(TorchRandomCollection.Name)]
public sealed class ResNetTests
{
    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet34")]
    [InlineData("resnet50")]
    public void Parameters_and_buffers_have_TorchVision_names_and_shapes(string architecture)
    {
        using var ours = architecture switch
        {
            "resnet18" => ResNet.ResNet18(10),
            "resnet34" => ResNet.ResNet34(10),
            _ => ResNet.ResNet50(10),
        };
        using var reference = architecture switch
        {
            "resnet18" => torchvision.models.resnet18(num_classes: 10),
            "resnet34" => torchvision.models.resnet34(num_classes: 10),
            _ => torchvision.models.resnet50(num_classes: 10),
        };

        var mine = ours.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        var theirs = reference.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);

        Assert.Equal(theirs.Keys.Order(StringComparer.Ordinal), mine.Keys.Order(StringComparer.Ordinal));
        Assert.All(theirs, p => Assert.Equal(p.Value, mine[p.Key]));
    }

    [Fact]
    public void Resnet18_gives_one_score_per_class_for_small_images()
    {
        using var model = ResNet.ResNet18(7);
        model.eval();

        using var output = model.forward(torch.randn(2, 3, 28, 28));

        Assert.Equal([2L, 7L], output.shape);
    }
}
