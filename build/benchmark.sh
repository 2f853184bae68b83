#!/usr/bin/env bash
# Prints the figures README quotes, measured on this machine:
#   - Records throughput on all of Fashion-MNIST (70,000 images, IDX → PNG records)
#   - Records of 2,000 baseline JPEGs (pass-through) against cat of the same files
#   - a no-op ./build.sh --target=Records (everything fresh), whole command, build.sh's checks included
#   - training throughput from shards against tensors in memory, and this process's peak memory
#   - the REST server on the default model's export (when one is built): start time, latency, throughput, memory
# With --train it also retrains the default model from scratch (about 14 minutes) and prints its test
# accuracy, training minutes and the Train stage's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"
full_train=""
[ "${1:-}" = "--train" ] && full_train=1

./build.sh --target=Records --verbosity=quiet >/dev/null
echo "== Records on Fashion-MNIST ($runs runs, each on a fresh artifacts folder)"
build/.bin/pipeline benchmark records --runs "$runs"
echo
echo "== Records of 2,000 baseline JPEGs against cat ($(( runs * 2 )) runs)"
build/.bin/pipeline benchmark jpeg-folder --runs "$(( runs * 2 ))"
echo
echo "== No-op ./build.sh --target=Records ($runs runs)"
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  ./build.sh --target=Records >/dev/null
  times+=($(( ($(date +%s%N) - start) / 1000000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "no-op build: min ${sorted[0]} ms, median ${sorted[$(( ${#sorted[@]} / 2 ))]} ms, max ${sorted[-1]} ms (goal: at most 2500 ms)"
echo
echo "== Training throughput: shards on disk against tensors in memory (default dataset's train settings)"
build/.bin/pipeline benchmark train --steps 150
if [ -e artifacts/fashion-mnist/export/latest ]; then
  echo
  echo "== REST server on the default model's export"
  build/.bin/pipeline benchmark serve --model artifacts/fashion-mnist/export --requests 4000
fi
if [ -n "$full_train" ]; then
  echo
  echo "== The default configuration, trained from scratch"
  rm -rf artifacts/fashion-mnist/checkpoints
  ./build.sh --target=Train --force 2>&1 | grep -E "trained [0-9]+ steps|peak memory|step [0-9]+: eval"
  ./build.sh --target=Evaluate 2>&1 | grep -E "examples: accuracy"
fi
