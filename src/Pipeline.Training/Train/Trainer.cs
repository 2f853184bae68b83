using System.Diagnostics;
using Pipeline.Core.Datasets;
using Pipeline.Core.Engine;
using Pipeline.Training.Distributed;
using Pipeline.Training.Input;
using Pipeline.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Train;

/// <summary>
/// The train-and-evaluate loop: trains on batches from the records, and every steps_per_eval steps evaluates on
/// the whole held-out split, logs, and writes a checkpoint it can resume from.
/// </summary>
/// <remarks>
/// Reproducible by construction: batch k is a pure function of the records, the seed and k (see
/// <see cref="RecordPipeline"/>), and the random generator behind dropout is re-seeded from (seed, step) before
/// every step, so a run resumed from a checkpoint ends with the same weights as one never interrupted.
/// </remarks>
public sealed class Trainer
{
    private readonly TrainParameters _p;
    private readonly int _classes;
    private readonly RecordPipeline _train;
    private readonly RecordPipeline _eval;
    private readonly CheckpointStore _checkpoints;
    private readonly string _lineage;
    private readonly TrainingLog _log;

    /// <summary>Train loss, accuracy and learning rate go to TensorBoard every this many steps (rank 0's share, in data-parallel training).</summary>
    public const int TensorBoardEvery = 50;

    public Trainer(TrainParameters parameters, int classes, RecordPipeline train, RecordPipeline eval,
        CheckpointStore checkpoints, string lineage, TrainingLog log)
    {
        _p = parameters;
        _classes = classes;
        _train = train;
        _eval = eval;
        _checkpoints = checkpoints;
        _lineage = lineage;
        _log = log;
    }

    /// <summary>
    /// Train from step 0 even where a checkpoint of this training exists (--force). The checkpoints are removed only
    /// when the first new one is written, so a run that fails before (a corrupt shard) leaves them to resume from.
    /// </summary>
    public bool FromScratch { get; init; }

    /// <summary>
    /// This process's place in a data-parallel training, or null to train alone. Each rank trains on its share of every
    /// batch and evaluates its share of the held-out split; only the lead (rank 0) logs and writes checkpoints.
    /// </summary>
    public DataParallel? Parallel { get; init; }

    private bool IsLead => Parallel?.IsLead ?? true;

    public TrainingResult Run(CancellationToken cancellation)
    {
        var ranks = Parallel?.Size ?? 1;
        // threads 0: this machine's cores shared out over the ranks on it.
        torch.set_num_threads(_p.Threads > 0 ? _p.Threads : Math.Max(1, Environment.ProcessorCount / (Parallel?.LocalSize ?? 1)));
        torch.manual_seed(_p.Seed);
        var model = ModelFactory.Create(_p, _classes);
        using var optimizer = new Optimizer(_p.Optimizer.Name, model.parameters(), _p.Optimizer.Momentum, _p.Optimizer.Nesterov, _p.WeightDecay);
        var schedule = new LearningRateSchedule(_p.LearningRate, _p.TrainSteps);
        var history = new List<HistoryPoint>();

        var start = 0;
        var resumed = FromScratch ? null : _checkpoints.Latest(_lineage, _p.TrainSteps);
        // Checkpoints not resumed from go when the first new one is written, not now: until training has got that
        // far (the records read, the steps taken), they are all there is to resume from.
        var discardBeforeSaving = resumed is null;
        if (resumed is not null)
        {
            using (var modelState = new BinaryReader(new MemoryStream(resumed.Model.ToArray())))
            {
                model.load(modelState);
            }
            using (var optimizerState = new BinaryReader(new MemoryStream(resumed.Optimizer.ToArray())))
            {
                optimizer.Load(optimizerState);
            }
            start = Math.Min(resumed.Step, _p.TrainSteps);
            history.AddRange(resumed.History.Where(h => h.Step <= start));
            _log.Line(resumed.Step < _p.TrainSteps
                ? $"resuming from {resumed.Name} at step {resumed.Step} of {_p.TrainSteps}"
                : $"{resumed.Name} already holds step {resumed.Step}; nothing left to train");
        }
        Parallel?.Attach(model, start);

        var lossFunction = new TorchSharp.Modules.CrossEntropyLoss(label_smoothing: _p.LabelSmoothing);
        var clock = Stopwatch.StartNew();
        var stepping = TimeSpan.Zero;
        var sinceLogged = new WindowInterval();
        _log.LogsSteps();
        model.train();
        var loop = new TrainingLoop
        {
            Model = model,
            Optimizer = optimizer,
            Loss = lossFunction.forward,
            RateAt = schedule.At,
            TotalSteps = _p.TrainSteps,
            EvalEvery = _p.StepsPerEval,
            // Dropout's generator re-seeded from (seed, step): a resumed run draws what an uninterrupted one would.
            BeforeStep = step => torch.manual_seed(StepSeed(step)),
            Exchange = Parallel is null ? null : Parallel.AverageGradients,
            AfterStep = (step, window) =>
            {
                sinceLogged.Add(window);
                if (step % TensorBoardEvery == 0 || step == _p.TrainSteps)
                {
                    var (loss, accuracy) = sinceLogged.Take();
                    _log.Stepped(step, loss, accuracy, schedule.At(step - 1));
                }
                // Every rank takes the same number of images a step: the job's rate is this rank's times the ranks.
                var perSecond = window.ImagesPerSecond * ranks;
                var remaining = TimeSpan.FromSeconds((_p.TrainSteps - step) * _p.BatchSize / Math.Max(1, perSecond));
                _log.Progress.Step(step, _p.TrainSteps, perSecond, window.MeanLoss, window.Accuracy, remaining);
            },
            Evaluate = () =>
            {
                var measured = Evaluate(model, cancellation);
                model.train();
                return measured;
            },
            Evaluated = (step, window, measured) =>
            {
                stepping += window.Elapsed;
                if (Parallel is not null)
                {
                    window.Combine(Parallel.Sum);
                }
                if (!IsLead)
                {
                    return;
                }
                var point = new HistoryPoint(step, window.MeanLoss, window.Accuracy, measured.Loss, measured.Accuracy, schedule.At(step - 1));
                history.Add(point);
                _log.Evaluated(point, window.ImagesPerSecond);
                if (discardBeforeSaving)
                {
                    discardBeforeSaving = false;
                    if (_checkpoints.Discard() is var discarded and > 0)
                    {
                        _log.Line(FromScratch
                            ? $"forced: training from scratch; {discarded} earlier checkpoint(s) removed"
                            : $"starting fresh: {discarded} checkpoint(s) of a different training were removed");
                    }
                }
                var saved = _checkpoints.Save(step, _lineage, history, ModelBytes(model), OptimizerBytes(optimizer));
                _log.Line($"step {step}: eval loss {measured.Loss:F4}, eval accuracy {measured.Accuracy:F4}; checkpoint {Path.GetFileName(saved)}");
            },
        };
        var step = start < _p.TrainSteps ? loop.Run(start, _train.Training(start, cancellation, Parallel?.Share), batch => batch.ToTensors(), cancellation) : start;
        _log.Line($"trained {step - start} steps in {clock.Elapsed.TotalMinutes:F1} min");
        return new TrainingResult(model, history, start, stepping, step - start);
    }

    /// <summary>
    /// Mean loss (without label smoothing) and top-1 accuracy over every example of the held-out split. In data-parallel
    /// training each rank measures its share, with batch normalization's statistics averaged over the ranks first, and
    /// the sums are the job's.
    /// </summary>
    public (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, CancellationToken cancellation)
    {
        model.eval();
        if (Parallel is null)
        {
            return Measure(model, _eval, cancellation);
        }
        Parallel.AverageBuffers(model);
        var sums = Sums(model, _eval, cancellation, Parallel.Share);
        Parallel.Sum(sums);
        return Mean(sums[0], (long)sums[1], (long)sums[2]);
    }

    /// <summary>Mean loss and top-1 accuracy of the model, in the mode it is in, over every example of <paramref name="data"/>.</summary>
    /// <exception cref="PipelineException">The split has no examples.</exception>
    internal static (double Loss, double Accuracy) Measure(nn.Module<Tensor, Tensor> model, RecordPipeline data, CancellationToken cancellation)
    {
        var sums = Sums(model, data, cancellation, RankShare.Whole);
        return Mean(sums[0], (long)sums[1], (long)sums[2]);
    }

    private static (double Loss, double Accuracy) Mean(double lossSum, long correct, long seen) =>
        seen == 0 ? throw new PipelineException("the held-out split has no examples to evaluate on") : (lossSum / seen, (double)correct / seen);

    /// <summary>The loss summed over <paramref name="share"/>'s examples of <paramref name="data"/>, how many the model got right, and how many there were.</summary>
    private static double[] Sums(nn.Module<Tensor, Tensor> model, RecordPipeline data, CancellationToken cancellation, RankShare share)
    {
        double lossSum = 0;
        long correct = 0, seen = 0;
        using var noGrad = torch.no_grad();
        foreach (var batch in data.Evaluation(cancellation, share))
        {
            if (batch.Count == 0)
            {
                batch.Dispose();
                continue;
            }
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var (images, labels) = batch.ToTensors();
                var logits = model.forward(images);
                lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(labels).sum().item<long>();
                seen += batch.Count;
            }
        }
        return [lossSum, correct, seen];
    }

    public static byte[] ModelBytes(nn.Module model)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            model.save(writer);
        }
        return buffer.ToArray();
    }

    private static byte[] OptimizerBytes(Optimizer optimizer)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            optimizer.Save(writer);
        }
        return buffer.ToArray();
    }

    /// <summary>Dropout's seed for a step: rank 0's is a lone process's, and each other rank draws its own masks.</summary>
    private long StepSeed(int step) => (long)(SplitMix64.For(_p.Seed, step, 0x5eed + (Parallel?.Rank ?? 0)).Next() >> 1);
}
