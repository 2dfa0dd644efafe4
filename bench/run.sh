#!/usr/bin/env bash
# make bench: the native core against its anchors, and the memory check. Writes bench/RESULTS.md.
# RUNS=5 (runs per tool, median reported), SIZES="10 100 300" (MB for the memory check), MAIN_MB=100.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
MAIN_MB=${MAIN_MB:-100}
SIZES=${SIZES:-"10 100 300"}
OUT=bench/out
export BENCH_STARTED="$(date -u '+%Y-%m-%d %H:%M UTC') (load $(cut -d' ' -f1-3 /proc/loadavg))"
mkdir -p bench/data "$OUT"
JSONL="$OUT/native.jsonl"
: > "$JSONL"

echo "== building (release)"
cargo build --quiet --release --example bench_gen --example bench_core \
  --example bench_anchor_parse --example bench_anchor_bare --example bench_sink
BIN=target/release/examples

echo "== generating data (seeded; reused when present)"
for kind in events people; do
  for mb in $SIZES $MAIN_MB 10; do
    f="bench/data/$kind-${mb}mb.csv"
    # the generator is deterministic: same seed + size → same bytes; regenerate only if missing
    [ -s "$f" ] || "$BIN/bench_gen" --kind "$kind" --mb "$mb" --out "$f"
  done
done
# warm the page cache so every tool reads from memory
cat bench/data/*.csv > /dev/null

run() { # run GROUP RUN CMD...: one JSON line, with the group, the run number and the 1-minute load average
  local group=$1 n=$2; shift 2
  local load line
  load=$(cut -d' ' -f1 /proc/loadavg)
  line=$("$@")
  echo "${line%\}},\"group\":\"$group\",\"run\":$n,\"load1\":$load}" | tee -a "$JSONL"
}

echo "== throughput: $RUNS runs per tool on the ${MAIN_MB} MB files (interleaved)"
for kind in events people; do
  f="bench/data/$kind-${MAIN_MB}mb.csv"
  for n in $(seq 1 "$RUNS"); do
    run main "$n" "$BIN/bench_anchor_parse" "$f" --kind "$kind"
    run main "$n" "$BIN/bench_anchor_bare" "$f" --kind "$kind" --style struct
    run main "$n" "$BIN/bench_anchor_bare" "$f" --kind "$kind" --style json
    run main "$n" "$BIN/bench_core" "$f" --kind "$kind" --api track
    run main "$n" "$BIN/bench_core" "$f" --kind "$kind" --api pipelines
  done
done

echo "== memory: the core on ${SIZES// /, } MB files"
for kind in events people; do
  for mb in $SIZES; do
    for api in track pipelines; do
      run memory 1 "$BIN/bench_core" "bench/data/$kind-${mb}mb.csv" --kind "$kind" --api "$api"
    done
  done
done

# Instruction counts (valgrind's callgrind) on the 10 MB files: slow, but the one measure that other work on a
# shared machine does not move. CALLGRIND=0 skips it.
if [ "${CALLGRIND:-1}" = 1 ] && command -v valgrind > /dev/null; then
  echo "== instructions (callgrind) on the 10 MB files"
  ir() { # ir TOOL KIND API CMD...
    local tool=$1 kind=$2 api=$3 n; shift 3
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p' | tr -d ,)
    echo "{\"tool\":\"$tool\",\"kind\":\"$kind\",\"api\":\"$api\",\"file\":\"$2\",\"bytes\":$(stat -c %s "$2"),\"instructions\":$n,\"group\":\"callgrind\"}" | tee -a "$JSONL"
  }
  for kind in events people; do
    f="bench/data/$kind-10mb.csv"
    ir anchor-csv-parse "$kind" "" "$BIN/bench_anchor_parse" "$f" --kind "$kind"
    ir anchor-bare-serde-struct "$kind" track "$BIN/bench_anchor_bare" "$f" --kind "$kind" --style struct
    ir core "$kind" track "$BIN/bench_core" "$f" --kind "$kind" --api track
    ir core "$kind" pipelines "$BIN/bench_core" "$f" --kind "$kind" --api pipelines
  done
fi

# Part 2 (needs the npm package built into dist/pkg by `make build`): the delivery comparison and the wasm core
# against native and JavaScript pipelines. PART2=0 skips it.
if [ "${PART2:-1}" = 1 ]; then
  if [ -z "${CIO_PKG:-}" ]; then
    echo "== building the npm package from this tree (scripts/build.sh; cached when nothing changed)"
    bash scripts/build.sh || echo "(the package could not be built: make setup installs its tools)"
  fi
  if [ -f "${CIO_PKG:-dist/pkg}/node.js" ]; then
    echo "== part 2: delivery and wasm (bench/js)"
    (cd bench/js && npm ci --no-audit --no-fund --loglevel=error)
    node bench/js/run.mjs
  else
    echo "== part 2 skipped: no built package at ${CIO_PKG:-dist/pkg} (run make build)"
    rm -f "$OUT/part2.jsonl"
  fi
fi

python3 bench/report.py "$JSONL" bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
