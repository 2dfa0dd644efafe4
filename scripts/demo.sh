#!/usr/bin/env bash
# `make demo`: build the package if needed, start the sandbox (a local stand-in for Customer.io), import the bundled
# samples through the command line (people through Track, events through Pipelines), print the command line's
# summaries and the sandbox's own account of what arrived; on a terminal, then serve the web importer against the
# same sandbox until Ctrl-C. Stops the sandbox at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=dist/pkg/package.json
if [ ! -f "$stamp" ] || [ -n "$(find src js pkg.json Cargo.toml Cargo.lock -newer "$stamp" -type f 2>/dev/null | head -1)" ]; then
  make --no-print-directory build
fi

work=$(mktemp -d)
node tests/sandbox/server.mjs --port 0 >"$work/sandbox.out" 2>&1 &
sandbox_pid=$!
cleanup() { kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do
  grep -q '^SANDBOX_URL=' "$work/sandbox.out" && break
  sleep 0.1
done
url=$(sed -n 's/^SANDBOX_URL=//p' "$work/sandbox.out" | head -1)
[ -n "$url" ] || { cat "$work/sandbox.out" >&2; echo "demo: the sandbox did not start" >&2; exit 1; }
echo "== sandbox listening at $url (test credentials: site_test / track_key_test, cdp_key_test)"

cli() { node dist/pkg/bin/cio-backfill.mjs "$@"; }
status=0
run() {
  local title=$1
  shift
  echo
  echo "== $title"
  echo "\$ cio-backfill $*"
  set +e
  cli "$@"
  local code=$?
  set -e
  echo "(exit $code: 0 every row sent, 1 some rows rejected or failed, 2 usage/config/auth error)"
  [ "$code" -le 1 ] || status=$code
}

export CIO_SITE_ID=site_test CIO_TRACK_API_KEY=track_key_test CIO_API_KEY=cdp_key_test
run "people through the Track API" import samples/people.csv --kind people --api track --endpoint "$url" \
  --rejected "$work/people.rejected.csv" --summary "$work/people.summary.json"
echo "-- rows not sent (samples/people.csv):"
cat "$work/people.rejected.csv" 2>/dev/null || echo "(none)"
run "events through the Data Pipelines API" import samples/events.csv --kind events --api pipelines --endpoint "$url" \
  --rejected "$work/events.rejected.csv" --summary "$work/events.summary.json"
echo "-- rows not sent (samples/events.csv):"
cat "$work/events.rejected.csv" 2>/dev/null || echo "(none)"

echo
echo "== the command line's JSON summaries"
for f in people events; do
  echo "-- $f:"
  node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const keep = ["rows","valid","rejected","sent","apiRejected","failed","requests","retries","warnings","olderThan30Days","campaignWindow"];
    console.log(JSON.stringify(Object.fromEntries(keep.map((k) => [k, s[k]]))));' "$work/$f.summary.json"
done
echo
echo "== the sandbox's summary (GET $url/__sandbox/summary)"
node -e 'fetch(process.argv[1]).then((r) => r.json()).then((s) => console.log(JSON.stringify(s, null, 2)))' "$url/__sandbox/summary"

# The web importer, on the same sandbox: served while you try it (on a terminal), or say how.
web_port=${DEMO_WEB_PORT:-8080}
if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ] && [ "${DEMO_WEB:-1}" != 0 ]; then
  echo
  echo "== the web importer: open http://127.0.0.1:$web_port/ (Track: site_test / track_key_test; Pipelines: cdp_key_test)"
  echo "   it sends to the sandbox at $url; try samples/*.csv. Ctrl-C stops it."
  node tests/e2e/static-server.mjs --port "$web_port" --endpoint "$url" || true
else
  echo
  echo "== the web importer: run \`make demo\` on a terminal to try it (DEMO_WEB=0 skips it), or host www/ anywhere"
fi
exit $status
