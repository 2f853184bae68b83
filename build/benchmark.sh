#!/usr/bin/env bash
# Prints the figures README quotes, measured on this machine:
#   - Records throughput on all of Fashion-MNIST (70,000 images, IDX → PNG records)
#   - Records of 2,000 baseline JPEGs (pass-through) against cat of the same files
#   - a no-op ./build.sh --target=Records (everything fresh), whole command, build.sh's checks included
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"

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
