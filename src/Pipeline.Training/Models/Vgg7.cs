using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Training.Models;

/// <summary>
/// A VGG-style network sized for small images on CPUs: five 3×3 convolutions, each with batch norm and ReLU, of
/// 24, 48, 48, 96 and 96 channels, 2×2 max pooling after the first and the third, then a classifier of two linear
/// layers (256 units, no dropout: at the default's budget of about nine epochs it underfits, and dropout cost 0.3
/// points of validation accuracy): 7 weight layers. At 28×28 it costs 13.5 M multiply-adds an image,
/// five times the cnn's, most of them at 14×14 and 7×7, where two cores run them about twice as fast per
/// multiply-add as the cnn's.
/// </summary>
public sealed class Vgg7 : Module<Tensor, Tensor>
{
    private const int Width = 24;
    private const int Hidden = 256;

    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly SafeBatchNorm2d bn2;
    private readonly Conv2d conv3;
    private readonly SafeBatchNorm2d bn3;
    private readonly Conv2d conv4;
    private readonly SafeBatchNorm2d bn4;
    private readonly Conv2d conv5;
    private readonly SafeBatchNorm2d bn5;
    private readonly Linear fc1;
    private readonly Linear fc2;

    public Vgg7(int inputChannels, int inputSize, int classes) : base(nameof(Vgg7))
    {
        conv1 = Conv2d(inputChannels, Width, 3, padding: 1, bias: false);
        bn1 = new SafeBatchNorm2d(Width);
        conv2 = Conv2d(Width, 2 * Width, 3, padding: 1, bias: false);
        bn2 = new SafeBatchNorm2d(2 * Width);
        conv3 = Conv2d(2 * Width, 2 * Width, 3, padding: 1, bias: false);
        bn3 = new SafeBatchNorm2d(2 * Width);
        conv4 = Conv2d(2 * Width, 4 * Width, 3, padding: 1, bias: false);
        bn4 = new SafeBatchNorm2d(4 * Width);
        conv5 = Conv2d(4 * Width, 4 * Width, 3, padding: 1, bias: false);
        bn5 = new SafeBatchNorm2d(4 * Width);
        var pooled = inputSize / 4;
        fc1 = Linear(4 * Width * pooled * pooled, Hidden);
        fc2 = Linear(Hidden, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = functional.max_pool2d(Block(input, conv1, bn1), 2);
        x = functional.max_pool2d(Block(Block(x, conv2, bn2), conv3, bn3), 2);
        x = functional.relu(fc1.forward(Block(Block(x, conv4, bn4), conv5, bn5).flatten(1)));
        return fc2.forward(x).MoveToOuterDisposeScope();
    }

    private static Tensor Block(Tensor x, Conv2d conv, SafeBatchNorm2d bn) => functional.relu(bn.forward(conv.forward(x)));
}
