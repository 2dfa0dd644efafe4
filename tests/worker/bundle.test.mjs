// `wrangler deploy --dry-run` bundles the Worker (what CI checks), and the bundle itself runs in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROOT, startWorker, startSandbox, secretsFor, postImport, peopleCsv, sandboxJson } from "./harness.mjs";

const OUT = path.join(ROOT, "dist/worker");
let sb;
let w;
before(async () => {
  sb = await startSandbox({ port: 0 });
});
after(async () => {
  await w?.close();
  await sb.close();
});

test("wrangler deploy --dry-run --outdir dist/worker bundles the Worker and its wasm", () => {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(path.join(ROOT, "www"), { recursive: true }); // the assets directory (www/ lands with the page)
  const r = spawnSync(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", OUT, "-c", path.join(ROOT, "worker/wrangler.toml")], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /--dry-run: exiting now/);
  assert.match(r.stdout, /env\.SLOTS \(ImportSlots\)/);
  assert.match(r.stdout, /env\.LEDGER \(ChunkLedger\)/);
  const files = fs.readdirSync(OUT);
  assert.ok(files.includes("index.js"), files.join(", "));
  assert.ok(files.some((f) => f.endsWith("cio_backfill_bg.wasm")), files.join(", "));
});

test("the queue-mode configuration (the commented block of wrangler.toml) bundles too", () => {
  const toml = fs.readFileSync(path.join(ROOT, "worker/wrangler.toml"), "utf8");
  const [head, rest] = toml.split("# --- queue mode ---\n");
  const [block, tail] = rest.split("# --- end of queue mode ---\n");
  const enabled = head.replace('main = "src/index.js"', 'main = "../src/index.js"').replace('directory = "../www"', 'directory = "../../www"') +
    block.replace(/^# ?/gm, "") + tail;
  const dir = path.join(ROOT, "worker/.wrangler");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "wrangler.queue.toml");
  fs.writeFileSync(file, enabled);
  const out = path.join(ROOT, "dist/worker-queue");
  const r = spawnSync(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out, "-c", file], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /env\.UPLOADS \(cio-backfill-uploads\)/);
  assert.match(r.stdout, /env\.IMPORTS \(cio-imports\)/);
  assert.match(r.stdout, /env\.JOBS \(ImportJob\)/);
  fs.rmSync(out, { recursive: true, force: true });
});

test("the bundle runs in workerd and imports through the sandbox", async () => {
  w = await startWorker({ bindings: secretsFor("track", sb.url), script: path.join(OUT, "index.js") });
  const r = await postImport(w.url, { kind: "people" }, peopleCsv(40));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.sent, 40);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).track.people, 40);
});
