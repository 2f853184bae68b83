using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>
/// The one training loop: each step turns a batch into tensors, runs the model forward, takes the loss and one
/// optimizer step, and counts the batch in the train window; every <see cref="EvalEvery"/> steps (and at the last) it
/// measures the held-out split and hands the result on. Full training, head training and fine-tuning are
/// configurations of it: their own batches, loss, learning rate, held-out measurement and what an evaluation records.
/// </summary>
/// <remarks>
/// A step runs in a dispose scope of its own, so every tensor it makes is freed when it ends: memory does not grow
/// with the steps. The step's order of operations is fixed here, so the same configuration gives the same weights.
/// </remarks>
internal sealed class TrainingLoop
{
    public required nn.Module<Tensor, Tensor> Model { get; init; }

    public required Optimizer Optimizer { get; init; }

    /// <summary>The loss to minimize, of a batch's logits against its labels.</summary>
    public required Func<Tensor, Tensor, Tensor> Loss { get; init; }

    /// <summary>The learning rate for the step that takes the model from step k to k + 1.</summary>
    public required Func<int, double> RateAt { get; init; }

    /// <summary>The step training ends at (steps are counted from 1; step k is the model after k updates).</summary>
    public required int TotalSteps { get; init; }

    public required int EvalEvery { get; init; }

    /// <summary>Held-out loss and accuracy; it leaves the model in the mode it trains in.</summary>
    public required Func<(double Loss, double Accuracy)> Evaluate { get; init; }

    /// <summary>After each evaluation: the step, the train window since the last one, and the held-out result.</summary>
    public required Action<int, TrainingWindow, (double Loss, double Accuracy)> Evaluated { get; init; }

    /// <summary>Between backward and the update: data-parallel training averages the gradients over its ranks here.</summary>
    public Action? Exchange { get; init; }

    /// <summary>Before each step, with the step about to be taken (full training re-seeds dropout's generator here).</summary>
    public Action<int>? BeforeStep { get; init; }

    /// <summary>After each step, with the step reached and the window so far (the progress line).</summary>
    public Action<int, TrainingWindow>? AfterStep { get; init; }

    /// <summary>Trains from step <paramref name="start"/> to <see cref="TotalSteps"/>, one batch a step; returns the step reached.</summary>
    /// <param name="tensors">A batch as the model's input and the labels, made inside the step's dispose scope.</param>
    public int Run<TBatch>(int start, IEnumerable<TBatch> batches, Func<TBatch, (Tensor Images, Tensor Labels)> tensors, CancellationToken cancellation)
    {
        var step = start;
        if (step >= TotalSteps)
        {
            return step;
        }
        var window = new TrainingWindow();
        foreach (var batch in batches)
        {
            using (batch as IDisposable)
            using (var scope = NewDisposeScope())
            {
                Optimizer.LearningRate = RateAt(step);
                BeforeStep?.Invoke(step);
                var (images, labels) = tensors(batch);
                var logits = Model.forward(images);
                var loss = Loss(logits, labels);
                Optimizer.Minimize(loss, Exchange);
                window.Add(loss, logits, labels, (int)labels.shape[0]);
            }
            step++;
            cancellation.ThrowIfCancellationRequested();
            AfterStep?.Invoke(step, window);
            if (step % EvalEvery == 0 || step == TotalSteps)
            {
                window.Stop();
                Evaluated(step, window, Evaluate());
                window = new TrainingWindow();
            }
            if (step >= TotalSteps)
            {
                break;
            }
        }
        return step;
    }
}
