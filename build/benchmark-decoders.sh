#!/usr/bin/env bash
# The decoder decision of issue 18, measured (build/decoders/Program.cs does the work):
#   1. speed and memory of ImageSharp (our decoder) and SkiaSharp on the same images, each in a process of its own:
#      Fashion-MNIST's 10,000 test PNGs to 1×28×28, 200 photo-like 640×480 JPEGs and 6 JPEGs of 5000×5000 to 3×224×224
#   2. how far Skia's model input is from ImageSharp's on those images, in 8-bit levels
#   3. ImageSharp's decode path (header checks, identify, decode, convert, resize) fuzzed by AFL++ through SharpFuzz
#      for FUZZ_SECONDS (default 600), then AFL's corpus and crashes replayed through both decoders
# usage: build/benchmark-decoders.sh [--no-fuzz]      (needs afl++ for the fuzzing: apt-get install afl++)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds="${FUZZ_SECONDS:-600}"
work="${DECODER_LAB_DIR:-/tmp/pipeline-decoder-lab}"
out="$work/bin"
mkdir -p "$work"
dotnet publish build/decoders/Pipeline.DecoderLab.csproj -c Release -o "$out" -nologo -v quiet -clp:ErrorsOnly
lab="$out/Pipeline.DecoderLab"

echo "== speed and memory, one process per decoder and set"
echo "| decoder | images | per image | images/s | allocated per image | peak resident |"
echo "| --- | --- | --- | --- | --- | --- |"
for set in fashion photos large; do
  for decoder in imagesharp skia; do
    "$lab" bench "$decoder" "$set"
  done
done
echo
echo "== Skia's model input against ImageSharp's, per value (mean, max)"
echo "| images | mean difference | max difference |"
echo "| --- | --- | --- |"
for set in fashion photos large; do
  "$lab" agree "$set"
done

[ "${1:-}" = "--no-fuzz" ] && exit 0
echo
if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "cannot fuzz: afl-fuzz is not installed (apt-get install afl++), or run with --no-fuzz" >&2
  exit 1
fi
echo "== AFL++ on ImageSharp's decode path for $fuzz_seconds s (SharpFuzz instruments SixLabors.ImageSharp.dll)"
tools="$work/tools"
[ -x "$tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fuzzed="$work/fuzzed"
rm -rf "$fuzzed" && cp -r "$out" "$fuzzed"
"$tools/sharpfuzz" "$fuzzed/SixLabors.ImageSharp.dll" >/dev/null
rm -rf "$work/seeds" "$work/findings"
"$lab" seeds "$work/seeds"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
afl-fuzz -i "$work/seeds" -o "$work/findings" -t 10000 -m none -V "$fuzz_seconds" -- "$fuzzed/Pipeline.DecoderLab" fuzz > "$work/afl.log" 2>&1 || true
stats="$work/findings/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  tail -n 30 "$work/afl.log" >&2
  echo "afl-fuzz did not run; its log is above" >&2
  exit 1
fi
field() { local line; line="$(grep -E "^$1 " "$stats")"; echo "${line##*: }"; }
crashes="$(find "$work/findings/default/crashes" -type f -name 'id:*' | wc -l)"
hangs="$(find "$work/findings/default/hangs" -type f -name 'id:*' | wc -l)"
echo "run time $(field run_time) s, $(field execs_done) executions ($(field execs_per_sec)/s), corpus $(field corpus_count) inputs, edges $(field edges_found), crashes $crashes, hangs $hangs"
echo
# Not the hangs: each takes AFL's timeout (10 s) or more by definition; they are listed above, for a person to look at.
echo "== AFL's corpus and crashes through both decoders"
"$lab" replay "$work/findings/default/queue" "$work/findings/default/crashes"
