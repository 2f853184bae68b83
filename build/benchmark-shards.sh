#!/usr/bin/env bash
# Records of the default dataset spread over N local worker processes (the commands the Kubernetes Indexed Job
# and the CI matrix in build/deploy/ run, each worker with an artifacts folder of its own), then combined, against
# one process doing all of it. Checks that the combined shards are byte-identical to the single run's and prints
# both times. On a 2-core machine N workers share the 2 cores, so expect little speed-up: the figure is honest
# about that; the point is that N machines each do 1/N of the encoding.
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-4}"
dataset="${DATASET:-fashion-mnist}"
./build.sh --target=Labels --dataset="$dataset" --verbosity=quiet >/dev/null
pipeline=build/.bin/pipeline
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export PIPELINE_CACHE=off

start=$(date +%s%N)
"$pipeline" run records --dataset "$dataset" --artifacts "$scratch/single" >/dev/null
single_ms=$(( ($(date +%s%N) - start) / 1000000 ))

start=$(date +%s%N)
pids=()
for i in $(seq 0 $(( workers - 1 ))); do
  "$pipeline" run records --dataset "$dataset" --artifacts "$scratch/worker$i" --shard-index "$i" --shard-count "$workers" >/dev/null &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
workers_ms=$(( ($(date +%s%N) - start) / 1000000 ))

"$pipeline" run labels --dataset "$dataset" --artifacts "$scratch/combined" >/dev/null
mkdir -p "$scratch/combined/$dataset/records"
for i in $(seq 0 $(( workers - 1 ))); do
  cp -r "$scratch/worker$i/$dataset/records/." "$scratch/combined/$dataset/records/"
done
start=$(date +%s%N)
"$pipeline" run records --only --dataset "$dataset" --artifacts "$scratch/combined" | grep -E "combined|not combining"
combine_ms=$(( ($(date +%s%N) - start) / 1000000 ))

if diff <(cd "$scratch/single/$dataset/records" && sha256sum * | sort) <(cd "$scratch/combined/$dataset/records" && sha256sum * | sort) >/dev/null; then
  identical="byte-identical to the single run"
else
  identical="DIFFERENT from the single run"
fi
echo "records of $dataset: 1 process ${single_ms} ms; $workers workers in parallel ${workers_ms} ms (slowest), then combining ${combine_ms} ms; shards $identical ($(nproc) cores)"
