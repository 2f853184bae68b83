using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Training.Models;

/// <summary>
/// ResNet-18/34/50 with TorchVision's architecture and parameter names ("layer1.0.conv1.weight",
/// "layer2.0.downsample.1.running_mean", "fc.weight"), so weights load into TorchVision's models as they are; and the
/// small ResNets He et al. sized for 32-pixel images (ResNet-8/14/20: a 3×3 stem, no max pooling, three stages of
/// 16, 32 and 64 channels, 6n + 2 layers), with the same parameter names and projection shortcuts.
/// </summary>
/// <remarks>
/// Our own rather than TorchSharp's TorchVision because its blocks add the residual with x.add_(identity),
/// which makes a temporary Scalar that nothing keeps alive during the native call: the finalizer thread can
/// free it mid-call and training dies at a random step. Here every Scalar is held until its call returns.
/// </remarks>
public sealed class ResNet : Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Linear fc;

    /// <summary>TorchVision's layout: max pooling after the stem, and a fourth stage.</summary>
    private readonly bool _pool;

    /// <param name="small">The small ResNets' stem (3×3, stride 1, no max pooling) and 16-32-64 channels, in three stages.</param>
    private ResNet(string name, bool bottleneck, int[] blocks, int classes, bool small = false, int inputChannels = 3) : base(name)
    {
        var expansion = bottleneck ? 4 : 1;
        int[] widths = small ? [16, 32, 64] : [64, 128, 256, 512];
        var inPlanes = widths[0];
        conv1 = small
            ? Conv2d(inputChannels, inPlanes, kernel_size: 3, stride: 1, padding: 1, bias: false)
            : Conv2d(inputChannels, inPlanes, kernel_size: 7, stride: 2, padding: 3, bias: false);
        bn1 = new SafeBatchNorm2d(inPlanes);
        maxpool = MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
        _pool = !small;
        Sequential Layer(int planes, int count, int stride)
        {
            var layer = Sequential();
            for (var i = 0; i < count; i++)
            {
                var blockStride = i == 0 ? stride : 1;
                Sequential? downsample = null;
                if (i == 0 && (stride != 1 || inPlanes != planes * expansion))
                {
                    downsample = Sequential(Conv2d(inPlanes, planes * expansion, kernel_size: 1, stride: stride, bias: false),
                        new SafeBatchNorm2d(planes * expansion));
                }
                layer.append(bottleneck
                    ? new Bottleneck(inPlanes, planes, blockStride, downsample)
                    : new BasicBlock(inPlanes, planes, blockStride, downsample));
                inPlanes = planes * expansion;
            }
            return layer;
        }
        layer1 = Layer(widths[0], blocks[0], 1);
        layer2 = Layer(widths[1], blocks[1], 2);
        layer3 = Layer(widths[2], blocks[2], 2);
        // The small ResNets have three stages: their fourth is empty (no parameters) and never run.
        layer4 = small ? Sequential() : Layer(widths[3], blocks[3], 2);
        avgpool = AdaptiveAvgPool2d([1, 1]);
        fc = Linear(widths[^1] * expansion, classes);
        RegisterComponents();

        foreach (var (_, module) in named_modules())
        {
            if (module is Conv2d conv)
            {
                init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
            }
        }
    }

    public static ResNet ResNet18(int classes) => new("ResNet18", false, [2, 2, 2, 2], classes);

    public static ResNet ResNet34(int classes) => new("ResNet34", false, [3, 4, 6, 3], classes);

    public static ResNet ResNet50(int classes) => new("ResNet50", true, [3, 4, 6, 3], classes);

    /// <summary>He et al.'s ResNet for small images of depth 6n + 2 (8, 14, 20, …): n basic blocks in each of three stages.</summary>
    public static ResNet Small(int depth, int inputChannels, int classes)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "a small ResNet has 6n + 2 layers: 8, 14, 20, …");
        }
        var n = (depth - 2) / 6;
        return new($"ResNet{depth}", false, [n, n, n], classes, small: true, inputChannels);
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = functional.relu(bn1.forward(conv1.forward(input)));
        if (_pool)
        {
            x = maxpool.forward(x);
        }
        x = layer3.forward(layer2.forward(layer1.forward(x)));
        if (_pool)
        {
            x = layer4.forward(x);
        }
        return fc.forward(avgpool.forward(x).flatten(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Adds the shortcut in place, holding the Scalar for the call (see the class remarks).</summary>
    internal static Tensor AddResidual(Tensor x, Tensor identity)
    {
        using var one = 1.ToScalar();
        return x.add_(identity, one).relu_();
    }

    private sealed class BasicBlock : Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly SafeBatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly SafeBatchNorm2d bn2;
        private readonly Sequential? downsample;

        public BasicBlock(int inPlanes, int planes, int stride, Sequential? downsample) : base(nameof(BasicBlock))
        {
            conv1 = Conv2d(inPlanes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn1 = new SafeBatchNorm2d(planes);
            conv2 = Conv2d(planes, planes, kernel_size: 3, stride: 1, padding: 1, bias: false);
            bn2 = new SafeBatchNorm2d(planes);
            this.downsample = downsample;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            var x = functional.relu(bn1.forward(conv1.forward(input)));
            x = bn2.forward(conv2.forward(x));
            return AddResidual(x, downsample?.forward(input) ?? input);
        }
    }

    private sealed class Bottleneck : Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly SafeBatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly SafeBatchNorm2d bn2;
        private readonly Conv2d conv3;
        private readonly SafeBatchNorm2d bn3;
        private readonly Sequential? downsample;

        public Bottleneck(int inPlanes, int planes, int stride, Sequential? downsample) : base(nameof(Bottleneck))
        {
            conv1 = Conv2d(inPlanes, planes, kernel_size: 1, bias: false);
            bn1 = new SafeBatchNorm2d(planes);
            conv2 = Conv2d(planes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn2 = new SafeBatchNorm2d(planes);
            conv3 = Conv2d(planes, planes * 4, kernel_size: 1, bias: false);
            bn3 = new SafeBatchNorm2d(planes * 4);
            this.downsample = downsample;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            var x = functional.relu(bn1.forward(conv1.forward(input)));
            x = functional.relu(bn2.forward(conv2.forward(x)));
            x = bn3.forward(conv3.forward(x));
            return AddResidual(x, downsample?.forward(input) ?? input);
        }
    }
}
