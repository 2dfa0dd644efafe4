// @customerio/cdp-analytics-node with its defaults (15 events per batch, flush every 10 s): parse the CSV (Papa
// Parse, streaming), analytics.track() per row, closeAndFlush() at the end. `--max-events N` raises the batch
// size (to show that its 480 KB guard does not bound the body's bytes). Prints one JSON line.
// node client-cdp-analytics-node.mjs FILE --url SANDBOX_URL [--max-events 15]
import fs from "node:fs";
import Papa from "papaparse";
import { Analytics } from "@customerio/cdp-analytics-node";
import { arg, CREDS, eventAttributes } from "./lib.mjs";

const file = process.argv[2];
const url = arg("--url");
const maxEvents = arg("--max-events");
const settings = { writeKey: CREDS.cdpKey, host: url };
if (maxEvents) settings.maxEventsInBatch = Number(maxEvents);
const analytics = new Analytics(settings);
let errors = 0;
analytics.on("error", () => errors++);

const t0 = performance.now();
let rows = 0;
const stream = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
await new Promise((resolve, reject) => {
  Papa.parse(stream, {
    header: true,
    skipEmptyLines: true,
    chunk: (results) => {
      for (const row of results.data) {
        rows++;
        analytics.track({
          userId: row.user_id,
          event: row.event,
          timestamp: new Date(row.timestamp),
          properties: eventAttributes(row),
        });
      }
    },
    complete: resolve,
    error: reject,
  });
});
await analytics.closeAndFlush({ timeout: 3_600_000 });
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ tool: `cdp-analytics-node ${maxEvents ? `maxEventsInBatch ${maxEvents}` : "defaults"}`, rows, errors, secs }));
