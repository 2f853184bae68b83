#!/usr/bin/env bash
# Training on cores something else also uses (a CI machine, two builds at once): the default dataset's data with
# the cnn in one process of 2 threads (the figures README quotes), for STEPS steps (default 200) from scratch, alone and then two at once on the same cores, under three wait settings of
# libtorch's OpenMP threads (GNU libgomp): OMP_WAIT_POLICY=PASSIVE (sleep at once; what ./build.sh --target=Test
# sets), libgomp's default (300,000 spins before sleeping; what a build uses), and a short spin (GOMP_SPINCOUNT=1000).
# Prints images/s per training. Usage: build/benchmark-sharing.sh   (about 5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${STEPS:-200}"
./build.sh --target=Labels --verbosity=quiet >/dev/null   # set-up and the engine
pipeline=build/.bin/pipeline
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$pipeline" run records --artifacts "$work/records" --cache off >/dev/null   # the shards, once

# One training into a scratch artifacts folder (the records copied in); the log is $work/NAME.log.
train() { # name [VAR=VALUE...]: environment for the training
  local name=$1
  shift
  rm -rf "$work/$name"
  mkdir -p "$work/$name" && cp -r "$work/records/." "$work/$name/"
  # On cores 0 and 1 whatever the machine has, so that two at once share them.
  env "$@" taskset -c 0,1 "$pipeline" run train --only --artifacts "$work/$name" --cache off --set train.threads=2 \
    --set train.model=cnn --set train.distributed.processes=1 \
    --set "train.train_steps=$steps" --set "train.steps_per_eval=$steps" > "$work/$name.log" 2>&1 \
    || { cat "$work/$name.log" >&2; echo "benchmark-sharing: $name failed" >&2; exit 1; }
}
rate() { # name: the last progress line's images/s (the whole run: one window)
  local found
  found=$(grep -oE '[0-9]+ images/s' "$work/$1.log" | tail -n 1) || true
  [ -n "$found" ] || { echo "benchmark-sharing: no images/s in $1's log" >&2; exit 1; }
  printf '%s' "${found% images/s}"
}

echo "| OpenMP wait ($steps steps of 128, threads 2) | alone | two at once: first | two at once: second |"
echo "| --- | --- | --- | --- |"
for policy in pipeline libgomp short; do
  case $policy in
    pipeline) vars=(OMP_WAIT_POLICY=PASSIVE); label="OMP_WAIT_POLICY=PASSIVE (the Test target's)" ;;
    libgomp) vars=(GOMP_SPINCOUNT=300000); label="libgomp's default (GOMP_SPINCOUNT=300000; a build's)" ;;
    short) vars=(GOMP_SPINCOUNT=1000); label="a short spin (GOMP_SPINCOUNT=1000)" ;;
  esac
  train "$policy-alone" "${vars[@]}"
  train "$policy-a" "${vars[@]}" & first=$!
  train "$policy-b" "${vars[@]}" & second=$!
  # A failed first one must not leave the second running while the trap deletes its folder.
  wait $first || { kill $second 2>/dev/null; wait $second 2>/dev/null; exit 1; }
  wait $second
  echo "| $label | $(rate $policy-alone) | $(rate $policy-a) | $(rate $policy-b) |"
done
