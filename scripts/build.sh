#!/usr/bin/env bash
# Build the npm package into dist/pkg (and the web page's copy of the wasm-bindgen output into www/pkg):
# cargo (wasm32, release) -> wasm-bindgen --target web -> wasm-opt -O3 (npm binaryen@132, never Debian's) ->
# package.json from pkg.json + the entry files from js/. Idempotent; `make build` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${CIO_TOOLS:-$HOME/.cache/cio-backfill}"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
CARGO="${CARGO:-cargo}"
OUT=dist/pkg
WASM=target/wasm32-unknown-unknown/release/cio_backfill.wasm

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want" != "$have" ]; then
  echo "build: wasm-bindgen $want is needed (found ${have:-none}); run \`make setup\`" >&2
  exit 2
fi
WASM_OPT=node_modules/.bin/wasm-opt
if [ ! -x "$WASM_OPT" ]; then
  echo "build: node_modules/.bin/wasm-opt (npm binaryen@132) is missing; run \`npm ci\` (or \`make setup\`)" >&2
  exit 2
fi

"$CARGO" build --lib --release --target wasm32-unknown-unknown

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/wasm" "$OUT.tmp/bin"
wasm-bindgen --target web --out-dir "$OUT.tmp/wasm" "$WASM"
# The features Rust's wasm32 target emits by default, and simd128 (.cargo/config.toml); wasm-opt must accept
# them (it does not read them back from the module once wasm-bindgen has stripped the target_features section).
"$WASM_OPT" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals \
  -o "$OUT.tmp/wasm/cio_backfill_bg.opt.wasm" "$OUT.tmp/wasm/cio_backfill_bg.wasm"
mv "$OUT.tmp/wasm/cio_backfill_bg.opt.wasm" "$OUT.tmp/wasm/cio_backfill_bg.wasm"

cp js/index.js js/node.js js/workerd.js js/index.d.ts js/via.mjs js/columns.mjs js/fetch-thread.mjs js/fetch-thread.d.ts "$OUT.tmp/"
cp js/cli.mjs "$OUT.tmp/bin/cio-backfill.mjs"
chmod +x "$OUT.tmp/bin/cio-backfill.mjs"
cp js/README.md "$OUT.tmp/README.md"
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
node -e '
  const fs = require("fs");
  const [tpl, out, version] = process.argv.slice(1);
  const text = fs.readFileSync(tpl, "utf8").replace("@VERSION@", version);
  const pkg = JSON.parse(text);
  if (pkg.dependencies && Object.keys(pkg.dependencies).length) throw new Error("the package must have no runtime dependencies");
  fs.writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n");
' pkg.json "$OUT.tmp/package.json" "$version"

rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"

# The web page (www/) loads the same wasm-bindgen output, and the chunker of js/via.mjs for its worker mode;
# www/pkg is git-ignored.
rm -rf www/pkg
mkdir -p www/pkg
cp "$OUT"/wasm/* "$OUT"/via.mjs www/pkg/

raw=$(wc -c <"$OUT/wasm/cio_backfill_bg.wasm")
gz=$(gzip -9c "$OUT/wasm/cio_backfill_bg.wasm" | wc -c)
echo "build: $OUT (cio-backfill $version): wasm $raw bytes, $gz gzipped"
