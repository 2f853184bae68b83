namespace Pipeline.Training.Evaluation;

/// <summary>Collects a classifier's outputs batch by batch and computes <see cref="ClassificationMetrics"/> from them.</summary>
/// <remarks>
/// The loss is computed here from the logits (cross-entropy through a max-shifted log-softmax, in double), so the caller
/// passes no loss and every evaluation reports the same quantity whatever loss options training used. It equals
/// torch's cross_entropy with mean reduction and no label smoothing. Each example is added in order and on its own,
/// so feeding the same examples in any batch sizes gives identical sums and identical results.
/// Ties between logits go to the lower class index, as torch's argmax does.
/// </remarks>
public sealed class ClassificationMetricsAccumulator
{
    private readonly int _classes;
    private readonly long[] _confusion;
    private long _examples;
    private long _top5Correct;
    private double _lossSum;

    public ClassificationMetricsAccumulator(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        _classes = classCount;
        _confusion = new long[classCount * classCount];
    }

    public int ClassCount => _classes;

    /// <summary>Examples added so far.</summary>
    public long ExampleCount => _examples;

    /// <summary>Adds one batch: <paramref name="logits"/> is count × classes, row-major; <paramref name="targets"/> holds 0-based class indices.</summary>
    public void Add(ReadOnlySpan<float> logits, ReadOnlySpan<long> targets)
    {
        if (logits.Length != targets.Length * _classes)
        {
            throw new ArgumentException(
                $"logits hold {logits.Length} values, but {targets.Length} targets × {_classes} classes need {targets.Length * _classes}",
                nameof(logits));
        }
        for (var row = 0; row < targets.Length; row++)
        {
            var target = targets[row];
            if (target < 0 || target >= _classes)
            {
                throw new ArgumentOutOfRangeException(nameof(targets),
                    $"example {_examples + row}: target {target} is not a class index (0 to {_classes - 1})");
            }
        }
        // Checked before anything is counted, so a rejected batch leaves the accumulator as it was.
        for (var i = 0; i < logits.Length; i++)
        {
            if (!float.IsFinite(logits[i]))
            {
                throw new ArgumentException(
                    $"example {_examples + i / _classes}: logit {i % _classes} is {logits[i]}; the model's outputs are not finite (did training diverge?)",
                    nameof(logits));
            }
        }
        for (var row = 0; row < targets.Length; row++)
        {
            AddExample(logits.Slice(row * _classes, _classes), (int)targets[row]);
        }
    }

    private void AddExample(ReadOnlySpan<float> scores, int target)
    {
        var predicted = 0;
        for (var c = 0; c < scores.Length; c++)
        {
            if (scores[c] > scores[predicted])
            {
                predicted = c;
            }
        }

        var max = (double)scores[predicted];
        var sum = 0.0;
        var rank = 0;
        var targetScore = scores[target];
        for (var c = 0; c < scores.Length; c++)
        {
            sum += Math.Exp(scores[c] - max);
            if (scores[c] > targetScore || (scores[c] == targetScore && c < target))
            {
                rank++;
            }
        }
        _lossSum += max + Math.Log(sum) - targetScore;
        if (rank < 5)
        {
            _top5Correct++;
        }
        _confusion[target * _classes + predicted]++;
        _examples++;
    }

    /// <summary>The metrics over every example added so far.</summary>
    public ClassificationMetrics Compute()
    {
        if (_examples == 0)
        {
            throw new InvalidOperationException("no examples were added: the evaluated split is empty");
        }

        var confusion = new long[_classes][];
        var perClass = new ClassMetrics[_classes];
        long correct = 0;
        for (var t = 0; t < _classes; t++)
        {
            confusion[t] = _confusion.AsSpan(t * _classes, _classes).ToArray();
            correct += confusion[t][t];
        }
        for (var c = 0; c < _classes; c++)
        {
            long support = 0;
            long predicted = 0;
            for (var other = 0; other < _classes; other++)
            {
                support += confusion[c][other];
                predicted += confusion[other][c];
            }
            var truePositives = confusion[c][c];
            var precision = Ratio(truePositives, predicted);
            var recall = Ratio(truePositives, support);
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass[c] = new ClassMetrics(precision, recall, f1, support, predicted);
        }

        // As scikit-learn's classification_report: macro averages cover the classes that occur as a target or a prediction.
        var averaged = perClass.Where(m => m.Support > 0 || m.Predicted > 0).ToArray();
        return new ClassificationMetrics(
            ExampleCount: _examples,
            Accuracy: (double)correct / _examples,
            Top5Accuracy: _classes > 5 ? (double)_top5Correct / _examples : null,
            MeanLoss: _lossSum / _examples,
            PerClass: perClass,
            MacroPrecision: averaged.Average(m => m.Precision),
            MacroRecall: averaged.Average(m => m.Recall),
            MacroF1: averaged.Average(m => m.F1),
            Confusion: confusion);
    }

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;
}
