#!/usr/bin/env bash
# The transfer-learning figures README reports, each measured from nothing in a scratch artifacts folder (no
# run-cache, no bottleneck cache), one build at a time (two trainings on the same cores slow each other badly):
#   - fashion-poets (the ImageNet ResNet-18, 50 images per class) to SmokePredict, then again after adding 10
#     images per class (only the new bottlenecks are computed);
#   - fashion-transfer (fashion-five's cnn, the other five classes, 50 images each) to SmokePredict; fashion-five
#     itself is restored from the run-cache when it was built before, else trained (about 4 minutes, not counted);
#   - the same architectures trained from scratch on the same images to Evaluate (fashion-poets-scratch trains a
#     ResNet-18 at 224x224 on 2 CPU cores: about 15 minutes).
# Usage: build/benchmark-transfer.sh [--no-scratch]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
scratch_runs=1
[ "${1:-}" = "--no-scratch" ] && scratch_runs=""
./build.sh --target=Labels --dataset=fashion-poets --verbosity=quiet >/dev/null   # set-up and the engine
pipeline=build/.bin/pipeline
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs the pipeline to a stage in the scratch artifacts folder; prints the seconds it took, keeps the log.
timed() { # name stage dataset [cache]
  local name=$1 stage=$2 dataset=$3 cache=${4:-off} start
  start=$(date +%s%N)
  "$pipeline" run "$stage" --dataset "$dataset" --artifacts "$work/artifacts" --cache "$cache" > "$work/$name.log" 2>&1 \
    || { cat "$work/$name.log" >&2; echo "benchmark-transfer: $name failed" >&2; exit 1; }
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%d.%d' $(( ms / 1000 )) $(( ms % 1000 / 100 ))
}
# The top-level "accuracy" of eval/metrics.json (canonical JSON: the first such key, on a line of its own).
accuracy() { grep -m1 -oE '"accuracy": [0-9.]+' "$work/artifacts/$1/eval/metrics.json" | grep -oE '[0-9.]+$'; }
grab() { grep -oE "$2" "$work/$1.log" | tail -1; }

poets=$(timed poets smokepredict fashion-poets)
poets_accuracy=$(accuracy fashion-poets)   # before the next run, which builds the same dataset name with 10 more images per class
mkdir -p "$work/poets60"
sed 's/"per_class": 50/"per_class": 60/' datasets/fashion-poets/dataset.json > "$work/poets60/dataset.json"
poets60=$(timed poets60 smokepredict "$work/poets60/dataset.json")
"$pipeline" run export --dataset fashion-five --artifacts "$work/artifacts" --cache "$repo/artifacts/.cache" > "$work/five.log" 2>&1
transfer=$(timed transfer smokepredict fashion-transfer)
# The same, with the backbone's last block (the cnn's fc1) fine-tuned after the head.
mkdir -p "$work/tuned"
sed -e 's/"name": "fashion-transfer"/"name": "fashion-transfer-tuned"/' \
    -e 's/"seed": 42$/"seed": 42, "fine_tune": { "steps": 300, "batch_size": 32, "learning_rate": 0.001 }/' \
    datasets/fashion-transfer/dataset.json > "$work/tuned/dataset.json"
tuned=$(timed tuned smokepredict "$work/tuned/dataset.json")
if [ -n "$scratch_runs" ]; then
  poets_scratch=$(timed poets-scratch evaluate fashion-poets-scratch)
  transfer_scratch=$(timed transfer-scratch evaluate fashion-transfer-scratch)
fi

echo
echo "| | transfer: accuracy | transfer: wall time | from scratch, same architecture and images: accuracy | from scratch: wall time |"
echo "| --- | --- | --- | --- | --- |"
echo "| fashion-poets (ImageNet ResNet-18 → 10 classes, 50 images each, 1,000 test images) | ${poets_accuracy} | ${poets} s | ${scratch_runs:+$(accuracy fashion-poets-scratch)} | ${scratch_runs:+${poets_scratch} s} |"
echo "| fashion-transfer (fashion-five's cnn → the other 5 classes, 50 images each, 1,000 test images) | $(accuracy fashion-transfer) | ${transfer} s | ${scratch_runs:+$(accuracy fashion-transfer-scratch)} | ${scratch_runs:+${transfer_scratch} s} |"
echo "| fashion-transfer with fine_tune (fc1 and the head, 300 steps of 32 images) | $(accuracy fashion-transfer-tuned) | ${tuned} s | | |"
echo
echo "fashion-poets bottlenecks: $(grab poets '[0-9.]+ images/s on [0-9]+ thread\(s\)'); head training: $(grab poets '[0-9,]+ steps in [0-9.]+ s \([0-9]+ steps/s\)')"
echo "fashion-poets after adding 10 images per class: ${poets60} s against ${poets} s the first time; $(grab poets60 '[0-9,]+ bottlenecks? computed, [0-9,]+ reused')"
echo "fashion-transfer bottlenecks: $(grab transfer '[0-9.]+ images/s on [0-9]+ thread\(s\)'); head training: $(grab transfer '[0-9,]+ steps in [0-9.]+ s \([0-9]+ steps/s\)')"
echo "(wall times are whole 'pipeline run' commands from an empty artifacts folder: Labels, Records, Bottlenecks, Train, Evaluate, Export, SmokePredict for a transfer; Labels to Evaluate from scratch)"
