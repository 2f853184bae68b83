using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Training.Models;

/// <summary>
/// ResNet-18/34/50 with TorchVision's architecture and parameter names ("layer1.0.conv1.weight",
/// "layer2.0.downsample.1.running_mean", "fc.weight"), so weights load into TorchVision's models as they are.
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

    private ResNet(string name, bool bottleneck, int[] blocks, int classes) : base(name)
    {
        var expansion = bottleneck ? 4 : 1;
        var inPlanes = 64;
        conv1 = Conv2d(3, 64, kernel_size: 7, stride: 2, padding: 3, bias: false);
        bn1 = new SafeBatchNorm2d(64);
        maxpool = MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
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
        layer1 = Layer(64, blocks[0], 1);
        layer2 = Layer(128, blocks[1], 2);
        layer3 = Layer(256, blocks[2], 2);
        layer4 = Layer(512, blocks[3], 2);
        avgpool = AdaptiveAvgPool2d([1, 1]);
        fc = Linear(512 * expansion, classes);
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

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = maxpool.forward(functional.relu(bn1.forward(conv1.forward(input))));
        x = layer4.forward(layer3.forward(layer2.forward(layer1.forward(x))));
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
