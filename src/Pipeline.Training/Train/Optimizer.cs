using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>AdamW or SGD with momentum (optionally Nesterov), with decoupled weight decay for AdamW as PyTorch has it.</summary>
/// <remarks>
/// Written here rather than taken from torch.optim because TorchSharp 0.107's optimizers crash at random:
/// they pass temporary Scalars (converted implicitly from doubles) to native calls without keeping them alive,
/// so the finalizer thread can free one mid-call ("Unknown scalar type" after a few hundred steps). Every
/// Scalar here is held by a using until its call has returned.
/// </remarks>
public sealed class Optimizer : IDisposable
{
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;

    private readonly string _kind;
    private readonly IReadOnlyList<TorchSharp.Modules.Parameter> _parameters;
    private readonly double _momentum;
    private readonly bool _nesterov;
    private readonly double _weightDecay;
    private readonly Tensor?[] _first;
    private readonly Tensor?[] _second;
    private long _steps;

    public Optimizer(string kind, IEnumerable<TorchSharp.Modules.Parameter> parameters, double momentum, bool nesterov, double weightDecay)
    {
        // dataset.json's optimizer is checked when it is loaded; another name here is a bug.
        if (!OptimizerParameters.Names.Contains(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, $"optimizers: {string.Join(", ", OptimizerParameters.Names)}");
        }
        _kind = kind;
        _parameters = parameters.ToList();
        _momentum = momentum;
        _nesterov = nesterov;
        _weightDecay = weightDecay;
        _first = new Tensor?[_parameters.Count];
        _second = new Tensor?[_parameters.Count];
    }

    public double LearningRate { get; set; }

    /// <summary>One step down <paramref name="loss"/>'s gradient: clears the parameters' gradients, back-propagates and updates.</summary>
    /// <param name="exchange">Between the backward pass and the update: data-parallel training averages the gradients over its ranks here.</param>
    public void Minimize(Tensor loss, Action? exchange = null)
    {
        ZeroGrad();
        loss.backward();
        exchange?.Invoke();
        Step();
    }

    public void ZeroGrad()
    {
        foreach (var parameter in _parameters)
        {
            using var grad = parameter.grad;
            grad?.zero_();
        }
    }

    public void Step()
    {
        using var noGrad = torch.no_grad();
        _steps++;
        for (var i = 0; i < _parameters.Count; i++)
        {
            using var grad = _parameters[i].grad;
            if (grad is null)
            {
                continue;
            }
            if (_kind == "adamw")
            {
                AdamW(i, grad);
            }
            else
            {
                Sgd(i, grad);
            }
        }
    }

    private void AdamW(int i, Tensor grad)
    {
        var parameter = _parameters[i];
        var first = _first[i] ??= torch.zeros_like(parameter).DetachFromDisposeScope();
        var second = _second[i] ??= torch.zeros_like(parameter).DetachFromDisposeScope();
        var correction1 = 1 - Math.Pow(Beta1, _steps);
        var correction2 = 1 - Math.Pow(Beta2, _steps);

        using var one = 1.0.ToScalar();
        using var decay = (1 - LearningRate * _weightDecay).ToScalar();
        using var beta1 = Beta1.ToScalar();
        using var rest1 = (1 - Beta1).ToScalar();
        using var beta2 = Beta2.ToScalar();
        using var rest2 = (1 - Beta2).ToScalar();
        using var root2 = Math.Sqrt(correction2).ToScalar();
        using var epsilon = Epsilon.ToScalar();
        using var step = (-LearningRate / correction1).ToScalar();

        parameter.mul_(decay);
        first.mul_(beta1).add_(grad, rest1);
        second.mul_(beta2).addcmul_(grad, grad, rest2);
        using var denominator = second.sqrt();
        denominator.div_(root2).add_(epsilon, one);
        parameter.addcdiv_(first, denominator, step);
    }

    private void Sgd(int i, Tensor grad)
    {
        var parameter = _parameters[i];
        using var one = 1.0.ToScalar();
        using var decay = _weightDecay.ToScalar();
        using var momentum = _momentum.ToScalar();
        using var rate = (-LearningRate).ToScalar();

        using var direction = grad.clone();
        if (_weightDecay != 0)
        {
            direction.add_(parameter, decay);
        }
        if (_momentum != 0)
        {
            var buffer = _first[i] ??= direction.clone().DetachFromDisposeScope();
            if (_steps > 1)
            {
                buffer.mul_(momentum).add_(direction, one);
            }
            if (_nesterov)
            {
                direction.add_(buffer, momentum);
            }
            else
            {
                direction.copy_(buffer);
            }
        }
        parameter.add_(direction, rate);
    }

    /// <summary>The step count and every state tensor, for checkpoints.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(_kind);
        writer.Write(_steps);
        writer.Write(_parameters.Count);
        foreach (var state in new[] { _first, _second })
        {
            foreach (var tensor in state)
            {
                writer.Write(tensor is not null);
                tensor?.Save(writer);
            }
        }
    }

    public void Load(BinaryReader reader)
    {
        var kind = reader.ReadString();
        var steps = reader.ReadInt64();
        var count = reader.ReadInt32();
        if (kind != _kind || count != _parameters.Count)
        {
            throw new PipelineException($"the checkpoint's optimizer ({kind}, {count} parameters) is not this one ({_kind}, {_parameters.Count})");
        }
        _steps = steps;
        foreach (var state in new[] { _first, _second })
        {
            for (var i = 0; i < state.Length; i++)
            {
                state[i]?.Dispose();
                state[i] = reader.ReadBoolean() ? TensorExtensionMethods.Load(reader).DetachFromDisposeScope() : null;
            }
        }
    }

    public void Dispose()
    {
        foreach (var tensor in _first.Concat(_second))
        {
            tensor?.Dispose();
        }
    }
}
