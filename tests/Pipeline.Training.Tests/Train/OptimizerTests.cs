using Pipeline.Training.Train;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests.Train;

/// <summary>
/// The hand-written optimizers step by step against the published update rules, on a three-value parameter and
/// three fixed gradients, in float64 so that the only difference from the reference is rounding (1e-12).
/// </summary>
/// <remarks>
/// Reference numbers were computed with python3 in float64 from the rules quoted on each test, for
/// p₀ = [0.5, −1.5, 2.0] and g₁ = [0.2, −0.4, 1.0], g₂ = [−0.1, 0.3, 0.5], g₃ = [0.25, 0.05, −0.75].
/// torch is not installed on the machine they were computed on, so they are not cross-checked against torch.optim;
/// the rules are the ones its documentation gives (SGD with dampening 0, AdamW with amsgrad off).
/// </remarks>
public sealed class OptimizerTests
{
    private static readonly double[] Start = [0.5, -1.5, 2.0];

    private static readonly double[][] Gradients =
    [
        [0.2, -0.4, 1.0],
        [-0.1, 0.3, 0.5],
        [0.25, 0.05, -0.75],
    ];

    /// <summary>The parameter after each of the three steps, the gradient of step t being <see cref="Gradients"/>[t−1].</summary>
    private static double[][] Steps(string kind, double learningRate, double momentum, bool nesterov, double weightDecay)
    {
        using var parameter = new TorchSharp.Modules.Parameter(torch.tensor(Start, ScalarType.Float64), requires_grad: true);
        using var optimizer = new Optimizer(kind, [parameter], momentum, nesterov, weightDecay) { LearningRate = learningRate };
        var after = new List<double[]>();
        foreach (var gradient in Gradients)
        {
            using var scope = NewDisposeScope();
            // d/dp Σ pᵢgᵢ = g exactly; Minimize clears the previous step's gradient first, so g is not accumulated.
            var loss = (parameter * torch.tensor(gradient, ScalarType.Float64)).sum();
            optimizer.Minimize(loss);
            after.Add(parameter.data<double>().ToArray());
        }
        return [.. after];
    }

    private static void AssertSteps(double[][] expected, double[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var t = 0; t < expected.Length; t++)
        {
            for (var i = 0; i < expected[t].Length; i++)
            {
                Assert.True(Math.Abs(expected[t][i] - actual[t][i]) < 1e-12,
                    $"step {t + 1}, value {i}: expected {expected[t][i]:R}, got {actual[t][i]:R}");
            }
        }
    }

    // Plain gradient descent (HeadTrainer's): p_t = p_{t−1} − γ g_t, γ = 0.1.
    [Fact]
    public void Sgd_without_momentum_steps_against_the_gradient_scaled_by_the_learning_rate()
    {
        AssertSteps(
        [
            [0.48, -1.46, 1.9],
            [0.49, -1.49, 1.8499999999999999],
            [0.46499999999999997, -1.4949999999999999, 1.9249999999999998],
        ], Steps("sgd", learningRate: 0.1, momentum: 0, nesterov: false, weightDecay: 0));
    }

    // torch.optim.SGD's documented algorithm with dampening τ = 0, γ = 0.1, μ = 0.9, λ = 0.01:
    //   d_t = g_t + λ p_{t−1};  b_1 = d_1, b_t = μ b_{t−1} + (1 − τ) d_t;  p_t = p_{t−1} − γ b_t.
    [Fact]
    public void Sgd_with_momentum_and_weight_decay_follows_torch_sgd()
    {
        AssertSteps(
        [
            [0.4795, -1.4585, 1.898],
            [0.4705705, -1.4496915, 1.7543019999999998],
            [0.4370633795, -1.4453141585, 1.6982194979999998],
        ], Steps("sgd", learningRate: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0.01));
    }

    // As above, but Nesterov: p_t = p_{t−1} − γ (d_t + μ b_t).
    [Fact]
    public void Sgd_with_nesterov_momentum_and_weight_decay_follows_torch_sgd()
    {
        AssertSteps(
        [
            [0.46104999999999996, -1.42115, 1.8062],
            [0.462569005, -1.441834815, 1.62514822],
            [0.40697217339049996, -1.4414906973515, 1.648239416382],
        ], Steps("sgd", learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01));
    }

    // Loshchilov & Hutter's AdamW as torch.optim.AdamW documents it, with the optimizer's β₁ = 0.9, β₂ = 0.999,
    // ε = 1e-8, and γ = 0.1, λ = 0.01:
    //   p ← p − γλp (decoupled decay, before the moments);  m_t = β₁m_{t−1} + (1−β₁)g_t;  v_t = β₂v_{t−1} + (1−β₂)g_t²;
    //   m̂ = m_t/(1−β₁ᵗ);  v̂ = v_t/(1−β₂ᵗ);  p_t = p − γ m̂/(√v̂ + ε)   (ε after the square root).
    [Fact]
    public void Adamw_applies_bias_corrected_moments_and_decoupled_weight_decay_as_torch_adamw()
    {
        AssertSteps(
        [
            [0.3995000049999997, -1.3985000024999998, 1.898000001],
            [0.3724668027136757, -1.3881690020096356, 1.8028840382971612],
            [0.31074251583179086, -1.3862719051985435, 1.7768666866134164],
        ], Steps("adamw", learningRate: 0.1, momentum: 0, nesterov: false, weightDecay: 0.01));
    }
}
