// make bench, part 2: the delivery comparison (our command line against customerio-node and
// cdp-analytics-node, same events, same local server) and the wasm core against native and JavaScript
// pipelines. Appends JSON lines to bench/out/part2.jsonl (cleared first). Run by bench/run.sh.
// Env: CIO_PKG (built package, default dist/pkg), WIRE_ROWS (default 1000000), CDP_ROWS (default 100000).
import fs from "node:fs";
import path from "node:path";
import { load1, ROOT, startServer, timed, CREDS } from "./lib.mjs";

const OUT = path.join(ROOT, "bench/out/part2.jsonl");
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, "");
const PKG = path.resolve(ROOT, process.env.CIO_PKG || "dist/pkg");
const CLI = path.join(PKG, "bin/cio-backfill.mjs");
const BIN = path.join(ROOT, "target/release/examples");
const WIRE_ROWS = Number(process.env.WIRE_ROWS || 1_000_000);
const CDP_ROWS = Number(process.env.CDP_ROWS || 100_000);
const data = (n) => path.join(ROOT, `bench/data/events-${n}-clean.csv`);
const node = process.execPath;

function gen(rows) {
  const f = data(rows);
  if (!fs.existsSync(f)) {
    return timed(path.join(BIN, "bench_gen"), ["--kind", "events", "--rows", String(rows), "--clean", "--out", f]);
  }
}

function record(obj) {
  const line = JSON.stringify(obj);
  console.log(line);
  fs.appendFileSync(OUT, line + "\n");
}

/** The JSON a client printed: the whole output (the command line pretty-prints), else its last JSON line. */
function lastJson(stdout) {
  try {
    return JSON.parse(stdout.trim());
  } catch {
    const lines = stdout.trim().split("\n").filter((l) => l.startsWith("{"));
    try {
      return lines.length ? JSON.parse(lines[lines.length - 1]) : {};
    } catch {
      return {};
    }
  }
}

/** One client run against a fresh server of `serverKind`. */
async function wire(group, name, serverKind, rows, makeCmd, extra = {}) {
  const srv = await startServer(serverKind);
  const load = load1();
  const [cmd, args, env] = makeCmd(srv.url);
  const r = await timed(cmd, args, { env });
  const s = await srv.summary();
  await srv.close();
  const out = lastJson(r.stdout);
  const bytes = serverKind === "sandbox" ? null : s.bytes;
  record({
    group,
    tool: name,
    server: serverKind,
    rows,
    exit: r.code,
    secs: r.secs,
    peakRssKib: r.peakRssKib,
    requests: s.requests,
    bytes,
    largestBody: s.largestBody,
    delivered: serverKind === "sandbox" ? s.track.events + s.pipelines.events : s.items,
    refused: serverKind === "sandbox" ? s.track.rejectedEntries + s.pipelines.droppedSilently + (s.byStatus?.["413"] || 0) : s.tooLarge,
    minRequests: bytes ? Math.ceil(bytes / 500_000) : null,
    sinkCpuSecs: s.cpuSecs ?? null,
    load1: load,
    client: out,
    ...extra,
  });
}

const cli = (file, apiArgs) => (url) => [
  node,
  [CLI, "import", file, "--kind", "events", "--endpoint", url, "--quiet", "--json", ...apiArgs],
  { CIO_SITE_ID: CREDS.siteId, CIO_TRACK_API_KEY: CREDS.trackKey, CIO_API_KEY: CREDS.cdpKey },
];
const cioNode = (file) => (url) => [node, [path.join(ROOT, "bench/js/client-customerio-node.mjs"), file, "--url", url, "--per-call", "1000"], {}];
const cdp = (file, more = []) => (url) => [node, [path.join(ROOT, "bench/js/client-cdp-analytics-node.mjs"), file, "--url", url, ...more], {}];

await gen(WIRE_ROWS);
await gen(CDP_ROWS);
const big = data(WIRE_ROWS);
const small = data(CDP_ROWS);

const WIRE_RUNS = Number(process.env.WIRE_RUNS || 5);
console.error(`== wire: ${WIRE_ROWS} events to the instant sink (the two Track clients ${WIRE_RUNS} times, interleaved)`);
for (let run = 1; run <= WIRE_RUNS; run++) {
  await wire("wire", "cio-backfill (track, --rate 1000)", "sink", WIRE_ROWS, cli(big, ["--api", "track", "--rate", "1000"]), { run });
  await wire("wire", "customerio-node TrackClient.batch(1000)", "sink", WIRE_ROWS, cioNode(big), { run });
}
// The same pair against the Node sink, for comparison: it takes ~0.6 s more CPU per million events on the
// machine's cores than the native one, which a one-call-at-a-time client does not feel.
const NODE_SINK_RUNS = Number(process.env.NODE_SINK_RUNS || 2);
for (let run = 1; run <= NODE_SINK_RUNS; run++) {
  await wire("wire", "cio-backfill (track, --rate 1000)", "sink-node", WIRE_ROWS, cli(big, ["--api", "track", "--rate", "1000"]), { run });
  await wire("wire", "customerio-node TrackClient.batch(1000)", "sink-node", WIRE_ROWS, cioNode(big), { run });
}
await wire("wire", "cio-backfill (track, defaults: 100 req/s)", "sink", WIRE_ROWS, cli(big, ["--api", "track"]));
await wire("wire", "cio-backfill (pipelines, defaults: 1000 req/s)", "sink", WIRE_ROWS, cli(big, ["--api", "pipelines"]));
console.error(`== wire: cdp-analytics-node on ${CDP_ROWS} events (too slow for ${WIRE_ROWS})`);
await wire("wire", "cdp-analytics-node (defaults)", "sink", CDP_ROWS, cdp(small));
await wire("wire", "cdp-analytics-node (maxEventsInBatch 5000)", "sink", CDP_ROWS, cdp(small, ["--max-events", "5000"]));

console.error(`== delivered: the validating sandbox`);
await wire("sandbox", "cio-backfill (track, --rate 1000)", "sandbox", WIRE_ROWS, cli(big, ["--api", "track", "--rate", "1000"]));
await wire("sandbox", "customerio-node TrackClient.batch(1000)", "sandbox", WIRE_ROWS, cioNode(big));
await wire("sandbox", "cdp-analytics-node (defaults)", "sandbox", CDP_ROWS, cdp(small));

console.error(`== pipelines: wasm core vs native core vs JavaScript, on the ${WIRE_ROWS}-event file (3 runs each)`);
const pipes = [
  ["native-core", path.join(BIN, "bench_core"), [big, "--kind", "events", "--api", "track"]],
  ["wasm-core", node, [path.join(ROOT, "bench/js/pipeline-wasm.mjs"), big, "--kind", "events", "--api", "track"]],
  ["js-papaparse", node, [path.join(ROOT, "bench/js/pipeline-js.mjs"), big, "--parser", "papaparse"]],
  ["js-udsv", node, [path.join(ROOT, "bench/js/pipeline-js.mjs"), big, "--parser", "udsv"]],
];
for (let run = 1; run <= 3; run++) {
  for (const [name, cmd, args] of pipes) {
    const load = load1();
    const r = await timed(cmd, args, { env: { CIO_PKG: PKG } });
    record({ group: "pipeline", tool: name, run, load1: load, secs: r.secs, peakRssKibOuter: r.peakRssKib, ...lastJson(r.stdout), tool: name });
  }
}

console.error(`== memory: wasm core and the command line (to the sink) by file size`);
// Up to 1 GB: the heaps of Node's isolates grow to their working size during the first ~100 MB, so flatness is
// judged from 100 MB up (bench/report.py); 1,000 MB is generated here if missing (bench/run.sh makes the others).
for (const mb of [10, 100, 300, 1000]) {
  const f = path.join(ROOT, `bench/data/events-${mb}mb.csv`);
  if (!fs.existsSync(f)) await timed(path.join(BIN, "bench_gen"), ["--kind", "events", "--mb", String(mb), "--out", f]);
  const load = load1();
  const r = await timed(node, [path.join(ROOT, "bench/js/pipeline-wasm.mjs"), f, "--kind", "events", "--api", "track"], { env: { CIO_PKG: PKG } });
  record({ group: "memory", tool: "wasm-core (dry run)", mb, load1: load, peakRssKib: r.peakRssKib, secs: r.secs });
  await wire("memory", "cio-backfill (track, --rate 1000)", "sink", null, cli(f, ["--api", "track", "--rate", "1000"]), { mb });
}
