#!/usr/bin/env bash
# Time to accuracy on the default dataset (issue 15): minutes of Train until validation accuracy first reaches
# 0.92, 0.93 and 0.94 (at the evaluations, every train.steps_per_eval steps; minutes from the line "Train: stale"
# to that evaluation's line, evaluations included), the Train minutes in all, and the test accuracy Evaluate then
# measures. Two trainings from scratch, one after the other (trainings sharing cores slow each other), each into a
# scratch artifacts folder:
#   - new: datasets/fashion-mnist as it is;
#   - old: the same dataset (the same validation split) with the recipe the default had before issue 15: the
#     2-conv cnn, AdamW at 0.002, 8,000 steps, one process, no flip at inference.
# Usage: build/benchmark-time-to-accuracy.sh [new|old]...   (about 30 minutes for both; default both)
set -euo pipefail
cd "$(dirname "$0")/.."
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(new old)
./build.sh --target=Records --verbosity=quiet >/dev/null   # set-up: the engine, Open MPI when the dataset needs it, the records
pipeline=build/.bin/pipeline
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ "$(id -u)" != 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

old=(train.model=cnn train.distributed.processes=1 train.threads=2 train.batch_size=128 train.train_steps=8000
  train.steps_per_eval=500 train.optimizer.name=adamw train.optimizer.nesterov=false train.learning_rate.base=0.002
  train.learning_rate.warmup_steps=300 train.weight_decay=0.0001 train.label_smoothing=0 train.augment.translate=2
  train.augment.flip=true inference.flip=false)

# Builds up to Evaluate with the --set values given; each log line is prefixed with the time it was read.
build() { # name set...
  local name=$1
  shift
  local sets=()
  for s in "$@"; do sets+=(--set "$s"); done
  if ! "$pipeline" run evaluate --artifacts "$work/$name" --cache off ${sets[@]+"${sets[@]}"} 2>&1 \
      | while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done > "$work/$name.log"; then
    tail -n 30 "$work/$name.log" >&2
    echo "benchmark-time-to-accuracy: the $name build failed" >&2
    exit 1
  fi
}

printf '| recipe | to 0.92 | to 0.93 | to 0.94 | last validation | Train | test accuracy |\n| --- | --- | --- | --- | --- | --- | --- |\n'
for config in "${configs[@]}"; do
  case "$config" in
    new) build new ;;
    old) build old "${old[@]}" ;;
    *) echo "benchmark-time-to-accuracy: unknown recipe '$config' (new or old)" >&2; exit 2 ;;
  esac
  awk -v name="$config" '
    / Train: stale/ { start = $1 }
    / Train: built in / { train = ($1 - start) / 60 }
    /: eval loss [0-9.]+, eval accuracy / {
      for (i = 1; i <= NF; i++) if ($i == "accuracy") { acc = $(i + 1); sub(/;/, "", acc) }
      last = acc
      for (t = 92; t <= 94; t++) if (!(t in reached) && acc + 0 >= t / 100) reached[t] = ($1 - start) / 60
    }
    / examples: accuracy / { for (i = 1; i <= NF; i++) if ($i == "accuracy") { test = $(i + 1) } }
    END {
      if (start == "" || train == "" || test == "") { print "benchmark-time-to-accuracy: " name "'\''s log lacks Train or Evaluate lines" > "/dev/stderr"; exit 1 }
      printf "| %s |", name
      for (t = 92; t <= 94; t++) printf " %s |", (t in reached) ? sprintf("%.1f min", reached[t]) : "not reached"
      printf " %s | %.1f min | %s |\n", last, train, test
    }' "$work/$config.log"
done
