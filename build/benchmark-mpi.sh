#!/usr/bin/env bash
# Data-parallel training's figures (train.distributed, Open MPI), measured on this machine, then a model of scaling:
#   - the default cnn on fashion-mnist for STEPS steps (default 600) from scratch, the same global batch of 128:
#     1 process x 2 threads, 2 processes x 1 thread (mpirun), 1 process x 1 thread; images/s, and for 2 processes
#     the time a step spends in the gradients' allreduce (waiting for the other rank included);
#   - the same for ResNet-18 (RESNET_STEPS steps, default 30, 2 processes), for its compute time and exchange;
#   - an allreduce of each model's gradients between 2 ranks alone (pipeline mpi check);
#   - scaling efficiency on N machines at 10 and 25 Gb/s, modelled from those measurements (see the end).
# Each training builds into a scratch artifacts folder, one at a time (trainings sharing cores slow each other).
# Usage: build/benchmark-mpi.sh      (about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${STEPS:-600}"
resnet_steps="${RESNET_STEPS:-30}"
./build.sh --target=Labels --dataset=fashion-mnist-mpi --verbosity=quiet >/dev/null   # set-up: the engine, Open MPI, the data
pipeline=build/.bin/pipeline
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ "$(id -u)" != 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Trains fashion-mnist-mpi with the --set values given, into the scratch folder; keeps the log as $work/NAME.log.
train() { # name steps set...
  local name=$1 n=$2
  shift 2
  local sets=()
  for s in "train.train_steps=$n" "train.steps_per_eval=$n" "$@"; do sets+=(--set "$s"); done
  "$pipeline" run train --dataset fashion-mnist-mpi --artifacts "$work/artifacts" --cache off --force "${sets[@]}" > "$work/$name.log" 2>&1 \
    || { cat "$work/$name.log" >&2; echo "benchmark-mpi: $name failed" >&2; exit 1; }
}
# The last match of a pattern in a run's log; stops the script, naming both, when there is none.
figure() { # name pattern
  local found
  found=$(grep -oE "$2" "$work/$1.log" | tail -n 1) || true
  [ -n "$found" ] || { echo "benchmark-mpi: the $1 run's log has no '$2'" >&2; tail -n 20 "$work/$1.log" >&2; exit 1; }
  printf '%s' "$found"
}
# The last progress line's images/s: the whole run, since steps_per_eval = steps (one window).
rate() { figure "$1" '[0-9]+ images/s' | grep -oE '^[0-9]+'; }
# Rank 0's step and allreduce milliseconds, and the bytes allreduced, from the stage's summary line.
step_ms() { figure "$1" 'a step took [0-9.]+ ms' | grep -oE '[0-9.]+'; }
allreduce_ms() { figure "$1" '[0-9.]+ ms of it in allreduce' | grep -oE '^[0-9.]+'; }
bytes() { figure "$1" '[0-9,]+ bytes of gradients' | grep -oE '^[0-9,]+' | tr -d ,; }

one2="train.distributed.processes=1"
train one-by-two "$steps" "$one2" train.threads=2
train two-by-one "$steps" train.distributed.processes=2 train.threads=1
train one-by-one "$steps" "$one2" train.threads=1
train resnet-two "$resnet_steps" train.model=resnet18 train.distributed.processes=2 train.threads=1

# Every figure first, so a missing one stops the script before any table is printed.
rate_12=$(rate one-by-two)
rate_11=$(rate one-by-one)
rate_21=$(rate two-by-one)
rate_resnet=$(rate resnet-two)
step_21=$(step_ms two-by-one)
allreduce_21=$(allreduce_ms two-by-one)
step_resnet=$(step_ms resnet-two)
allreduce_resnet=$(allreduce_ms resnet-two)
cnn_bytes=$(bytes two-by-one)
resnet_bytes=$(bytes resnet-two)
check() { # bytes: rank 0's median allreduce time of that many bytes of floats, in ms (the output is read whole first)
  local out
  out=$(mpirun -np 2 "$pipeline" mpi check --floats "$(( $1 / 4 ))")
  printf '%s\n' "$out" | grep -oE 'median [0-9.]+ ms' | sed -n 1p | grep -oE '[0-9.]+'
}
cnn_alone=$(check "$cnn_bytes")
resnet_alone=$(check "$resnet_bytes")
percent() { awk -v a="$1" -v s="$2" 'BEGIN { printf "%.1f", 100 * a / s }'; }
per_step() { awk -v r="$1" 'BEGIN { printf "%.1f", 128000 / r }'; }

echo
echo "| fashion-mnist, cnn, global batch 128, $steps steps | images/s | step (ms) | allreduce in a step |"
echo "| --- | --- | --- | --- |"
echo "| 1 process x 2 threads | $rate_12 | $(per_step "$rate_12") | - |"
echo "| 1 process x 1 thread | $rate_11 | $(per_step "$rate_11") | - |"
echo "| 2 processes x 1 thread (mpirun, 64 examples each) | $rate_21 | $step_21 | $allreduce_21 ms ($(percent "$allreduce_21" "$step_21")%) |"
echo "| ResNet-18 at 28 px, 2 processes x 1 thread, $resnet_steps steps | $rate_resnet | $step_resnet | $allreduce_resnet ms ($(percent "$allreduce_resnet" "$step_resnet")%) |"
echo
echo "bytes each rank sends and receives a step: cnn ${cnn_bytes}, ResNet-18 ${resnet_bytes}"
echo "the same allreduce between 2 ranks alone (pipeline mpi check, shared memory, median of 5): cnn ${cnn_alone} ms, ResNet-18 ${resnet_alone} ms"
echo
# The model: N machines, each a rank taking 64 examples a step (the global batch grows with N), computing in the time a
# rank's step took here less its allreduce; a ring allreduce moves 2(N-1)/N of the gradients' bytes through each
# machine's link, plus 2(N-1) messages of latency (50 us each, assumed); the exchange starts after backward (no
# overlap), so efficiency = compute / (compute + exchange).
echo "| modelled efficiency, N machines of one rank (64 examples each) | N=2 | N=4 | N=8 | N=16 | N=32 |"
echo "| --- | --- | --- | --- | --- | --- |"
for model in cnn resnet; do
  if [ $model = cnn ]; then step=$step_21; allreduce=$allreduce_21; size=$cnn_bytes; name="cnn"
  else step=$step_resnet; allreduce=$allreduce_resnet; size=$resnet_bytes; name="ResNet-18"; fi
  compute=$(awk -v s="$step" -v a="$allreduce" 'BEGIN { printf "%.2f", s - a }')
  for gbps in 10 25; do
    printf '| %s (compute %s ms a step), %s Gb/s |' "$name" "$compute" "$gbps"
    for n in 2 4 8 16 32; do
      awk -v c="$compute" -v b="$size" -v g="$gbps" -v n="$n" 'BEGIN {
        ring = 2 * (n - 1) / n * b * 8 / (g * 1e9) * 1000 + 2 * (n - 1) * 0.05
        printf " %.0f%% (%.1f ms) |", 100 * c / (c + ring), ring }'
    done
    echo
  done
done
