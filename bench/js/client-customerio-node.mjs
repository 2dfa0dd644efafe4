// customerio-node's TrackClient.batch, the way its README suggests for volume: parse the CSV (Papa Parse,
// streaming), build Track v2 event operations, send `--per-call` (default 1000) per batch() call, one call at a
// time (each awaited). Prints one JSON line.
// node client-customerio-node.mjs FILE --url SANDBOX_URL [--per-call 1000] [--in-flight 1]
import fs from "node:fs";
import Papa from "papaparse";
import { TrackClient } from "customerio-node";
import { arg, CREDS, eventAttributes, unixSeconds } from "./lib.mjs";

const file = process.argv[2];
const url = arg("--url");
const perCall = Number(arg("--per-call", "1000"));
const inFlight = Number(arg("--in-flight", "1"));
const cio = new TrackClient(CREDS.siteId, CREDS.trackKey, { url: `${url}/api/v1` });

const t0 = performance.now();
let rows = 0;
let calls = 0;
let failed = 0;
let ops = [];
const pending = new Set();

async function send(batch) {
  calls++;
  const p = cio
    .batch(batch)
    .catch(() => {
      failed += batch.length;
    })
    .finally(() => pending.delete(p));
  pending.add(p);
  if (pending.size >= inFlight) await Promise.race(pending);
}

const stream = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
await new Promise((resolve, reject) => {
  Papa.parse(stream, {
    header: true,
    skipEmptyLines: true,
    chunk: async (results, parser) => {
      parser.pause();
      for (const row of results.data) {
        rows++;
        ops.push({
          type: "person",
          identifiers: { id: row.user_id },
          action: "event",
          name: row.event,
          timestamp: unixSeconds(row.timestamp),
          attributes: eventAttributes(row),
        });
        if (ops.length >= perCall) {
          const b = ops;
          ops = [];
          await send(b);
        }
      }
      parser.resume();
    },
    complete: resolve,
    error: reject,
  });
});
if (ops.length) await send(ops);
await Promise.all(pending);
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ tool: `customerio-node batch(${perCall})${inFlight > 1 ? ` x${inFlight}` : ""}`, rows, calls, failed, secs }));
