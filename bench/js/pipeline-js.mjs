// The fastest JavaScript pipelines we could write for the same job as the core's dry run on an events file:
// parse (Papa Parse or uDSV, streaming, 64 KiB reads), build a Track v2 event entry per row (objects +
// JSON.stringify), pack the entries into `{"batch":[...]}` bodies of at most 490,000 bytes (measured in UTF-8
// bytes, as the core does). No validation beyond skipping rows whose timestamp does not parse.
// node pipeline-js.mjs FILE --parser papaparse|udsv
import fs from "node:fs";
import Papa from "papaparse";
import { initParser, inferSchema } from "udsv";
import { arg, eventAttributes, peakRssKib, unixSeconds } from "./lib.mjs";

const file = process.argv[2];
const parser = arg("--parser", "papaparse");
const LIMIT = 490_000;
const PREFIX = '{"batch":[';
const SUFFIX = "]}";

const t0 = performance.now();
const cpu0 = process.cpuUsage();
let rows = 0;
let valid = 0;
let batches = 0;
let bodyBytes = 0;
let largest = 0;
let parts = [];
let size = PREFIX.length + SUFFIX.length;

function flush() {
  if (!parts.length) return;
  const body = PREFIX + parts.join(",") + SUFFIX; // what would go on the wire
  const n = Buffer.byteLength(body);
  batches++;
  bodyBytes += n;
  largest = Math.max(largest, n);
  parts = [];
  size = PREFIX.length + SUFFIX.length;
}

function onRow(userId, event, timestamp, attrs) {
  rows++;
  const ts = unixSeconds(timestamp);
  if (ts == null) return;
  const item = JSON.stringify({
    type: "person",
    identifiers: { id: userId },
    action: "event",
    name: event,
    timestamp: ts,
    attributes: attrs,
  });
  const n = Buffer.byteLength(item);
  if (size + n + (parts.length ? 1 : 0) > LIMIT) flush();
  size += n + (parts.length ? 1 : 0);
  parts.push(item);
  valid++;
}

const stream = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
if (parser === "papaparse") {
  await new Promise((resolve, reject) => {
    Papa.parse(stream, {
      header: true,
      skipEmptyLines: true,
      chunk: (results) => {
        for (const row of results.data) onRow(row.user_id, row.event, row.timestamp, eventAttributes(row));
      },
      complete: resolve,
      error: reject,
    });
  });
} else {
  // uDSV: string arrays (the fastest mode), header from the first row; a streaming TextDecoder keeps UTF-8
  // characters that straddle two reads whole.
  const dec = new TextDecoder();
  let p = null;
  let header = null;
  const each = (r) => {
    if (r.length === 1 && r[0] === "") return true;
    const a = {};
    for (let i = 3; i < header.length; i++) {
      const v = r[i];
      if (v === "" || v === undefined) continue;
      const k = header[i];
      a[k] = k === "amount" ? Number(v) : k === "quantity" ? Number.parseInt(v, 10) : v;
    }
    onRow(r[0], r[1], r[2], a);
    return true;
  };
  for await (const buf of stream) {
    const s = dec.decode(buf, { stream: true });
    if (!p) {
      const schema = inferSchema(s);
      header = schema.cols.map((c) => c.name);
      p = initParser(schema);
    }
    p.chunk(s, p.stringArrs, each);
  }
  p.chunk(dec.decode(), p.stringArrs, each);
  p.end();
}
flush();
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const bytes = fs.statSync(file).size;
console.log(
  JSON.stringify({
    tool: `js-${parser}`,
    file,
    kind: "events",
    api: "track",
    bytes,
    rows,
    valid,
    rejected: rows - valid,
    batches,
    bodyBytes,
    largestBody: largest,
    secs,
    mbPerSec: bytes / 1e6 / secs,
    rowsPerSec: rows / secs,
    cpuSecs: (cpu.user + cpu.system) / 1e6,
    mbPerCpuSec: bytes / 1e6 / ((cpu.user + cpu.system) / 1e6),
    peakRssKib: peakRssKib(),
  }),
);
