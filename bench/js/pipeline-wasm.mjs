// The wasm core in Node, the same job as bench_core: the file in 64 KiB chunks through the package's Importer
// with dryRun (read → CSV → validate → payload → pack); issues and rejected rows drained after every chunk.
// node pipeline-wasm.mjs FILE --kind events|people --api track|pipelines   (CIO_PKG: the built package, default
// dist/pkg)
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { arg, NOW_MS, peakRssKib, ROOT } from "./lib.mjs";

const pkg = path.resolve(ROOT, process.env.CIO_PKG || "dist/pkg");
const { Importer } = await import(pathToFileURL(path.join(pkg, "node.js")).href);

const file = process.argv[2];
const kind = arg("--kind", "events");
const api = arg("--api", "track");
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const imp = new Importer({ api, kind, dryRun: true, now: NOW_MS, credentials: { siteId: "x", apiKey: "x" } });
const fd = fs.openSync(file, "r");
const buf = Buffer.allocUnsafe(64 * 1024);
let bytes = 0;
for (;;) {
  const n = fs.readSync(fd, buf, 0, buf.length, null);
  if (n === 0) break;
  bytes += n;
  imp.push(buf.subarray(0, n));
  imp.takeIssues();
  imp.takeRejectedCsv();
}
fs.closeSync(fd);
imp.finish();
imp.takeIssues();
imp.takeRejectedCsv();
const s = imp.summary();
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    tool: "wasm-core",
    file,
    kind,
    api,
    bytes,
    rows: s.rows,
    valid: s.valid,
    rejected: s.rejected,
    batches: s.requests,
    bodyBytes: s.bodyBytes,
    largestBody: 0,
    secs,
    mbPerSec: bytes / 1e6 / secs,
    rowsPerSec: s.rows / secs,
    cpuSecs: (cpu.user + cpu.system) / 1e6,
    mbPerCpuSec: bytes / 1e6 / ((cpu.user + cpu.system) / 1e6),
    peakRssKib: peakRssKib(),
  }),
);
imp.free();
