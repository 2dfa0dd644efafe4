#!/usr/bin/env bash
# Fuzz the CSV → payload → batch → sender path with libFuzzer (cargo fuzz, nightly toolchain).
# Usage: scripts/ci/fuzz.sh [SECONDS]   (default 600)
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="${CIO_TOOLS:-$HOME/.cache/cio-backfill}"
export PATH="$TOOLS/bin:$PATH"
secs="${1:-600}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --root "$TOOLS"
mkdir -p fuzz/corpus/csv_to_payload
# Seed the corpus with the fixture files (3 control bytes first: kind/api/dry-run, chunk size, batch limit).
for f in tests/fixtures/csv/*.csv samples/*.csv; do
  out="fuzz/corpus/csv_to_payload/seed-$(basename "$f")"
  [ -f "$out" ] || { printf '\x01\x07\x05' > "$out"; cat "$f" >> "$out"; }
done
cargo +nightly fuzz run csv_to_payload fuzz/corpus/csv_to_payload -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | tee fuzz/last-run.log | grep -E "^#[0-9]+.*(pulse|DONE)|ERROR|panicked|SUMMARY" || true
grep -E "Done [0-9]+ runs" fuzz/last-run.log || tail -5 fuzz/last-run.log
