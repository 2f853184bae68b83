using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Training.Models;

/// <summary>
/// The labs' "custom model": two convolution blocks (3×3 conv, batch norm, ReLU, 2×2 max pool) and a small
/// classifier with dropout. Sized for 28×28 to 64×64 inputs on CPUs.
/// </summary>
public sealed class SmallCnn : Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly SafeBatchNorm2d bn2;
    private readonly Dropout dropout;
    private readonly Linear fc1;
    private readonly Linear fc2;

    public SmallCnn(int inputChannels, int inputSize, int classes, int width = 24) : base(nameof(SmallCnn))
    {
        conv1 = Conv2d(inputChannels, width, 3, padding: 1, bias: false);
        bn1 = new SafeBatchNorm2d(width);
        conv2 = Conv2d(width, 2 * width, 3, padding: 1, bias: false);
        bn2 = new SafeBatchNorm2d(2 * width);
        dropout = Dropout(0.25);
        var pooled = inputSize / 4;
        fc1 = Linear(2 * width * pooled * pooled, 128);
        fc2 = Linear(128, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = functional.max_pool2d(functional.relu(bn1.forward(conv1.forward(input))), 2);
        x = functional.max_pool2d(functional.relu(bn2.forward(conv2.forward(x))), 2);
        x = dropout.forward(x.flatten(1));
        x = dropout.forward(functional.relu(fc1.forward(x)));
        return fc2.forward(x).MoveToOuterDisposeScope();
    }
}
