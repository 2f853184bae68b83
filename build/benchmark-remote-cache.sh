#!/usr/bin/env bash
# Remote run-cache figures for a built dataset, through Debian's nginx started from build/deploy/remote-cache/nginx.conf
# on a free loopback port: push the dataset's build, then bring the chain up to TARGET into an empty artifacts folder
# with an empty local cache (what a fresh clone or CI machine does), RUNS times; then once more with the local cache
# warm, for comparison. Prints seconds and megabytes; nginx is stopped by its pid at the end.
#
#   build/benchmark-remote-cache.sh [--dataset=NAME] [--target=STAGE] [--runs=N]
#
# The dataset must be built up to TARGET first (./build.sh), and build/.bin/pipeline present (build.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=fashion-mnist target=train runs=5
for arg in "$@"; do
  case "$arg" in
    --dataset=*) dataset="${arg#*=}" ;;
    --target=*) target="${arg#*=}" ;;
    --runs=*) runs="${arg#*=}" ;;
    *) echo "usage: $0 [--dataset=NAME] [--target=STAGE] [--runs=N]" >&2; exit 2 ;;
  esac
done
pipeline=build/.bin/pipeline
[ -x "$pipeline" ] || { echo "$0: $pipeline is missing: run ./build.sh first" >&2; exit 1; }
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || { echo "$0: nginx is missing: apt-get install nginx" >&2; exit 1; }

work="$(mktemp -d)"
nginx_pid=""
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=18080
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
mkdir -p "$work/server/tmp"
sed "s/listen 127.0.0.1:8080;/listen 127.0.0.1:$port;/" build/deploy/remote-cache/nginx.conf > "$work/server/nginx.conf"
"$nginx" -p "$work/server" -c "$work/server/nginx.conf" -e "$work/server/error.log" &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/cache"

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# The megabytes a build's log says it moved, summed over its "downloaded ... N MB" lines.
downloaded() { awk '/downloaded from the remote cache/ { sub(/ MB$/, ""); n += $NF } END { printf "%.1f", n }' "$1"; }

start=$(now)
"$pipeline" cache push --dataset "$dataset" --cache "$url" > "$work/push.log"
end=$(now)
stored=$(du -sb "$work/server/store" | awk '{ printf "%.1f", $1 / 1048576 }')
echo "push: $(seconds "$start" "$end") s; the server holds $stored MB ($(grep -c ': pushed' "$work/push.log") stages)"

times=()
for i in $(seq "$runs"); do
  rm -rf "$work/cold"
  start=$(now)
  "$pipeline" run "$target" --dataset "$dataset" --artifacts "$work/cold" --cache "$url" > "$work/restore.log"
  end=$(now)
  if grep -q -E "^(Labels|Records|Bottlenecks|Train|Evaluate|SmokePredict): built" "$work/restore.log"; then
    echo "$0: run $i computed a stage instead of restoring it:" >&2
    cat "$work/restore.log" >&2
    exit 1
  fi
  times+=("$(seconds "$start" "$end")")
  echo "cold restore $i: ${times[-1]} s, $(downloaded "$work/restore.log") MB downloaded"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "cold local cache, up to $target: median $median s of $runs (min $(printf '%s\n' "${times[@]}" | sort -n | head -n 1), max $(printf '%s\n' "${times[@]}" | sort -n | tail -n 1))"

rm -rf "$work/cold/$dataset"
start=$(now)
"$pipeline" run "$target" --dataset "$dataset" --artifacts "$work/cold" --cache "$url" > "$work/warm.log"
end=$(now)
echo "warm local cache, up to $target: $(seconds "$start" "$end") s, $(downloaded "$work/warm.log") MB downloaded"
