// The command line through the Worker: `cio-backfill import FILE --via URL --token T` cuts the file into
// self-contained chunks, the Worker (in workerd) sends them with its own keys, and a second run duplicates nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { ROOT, TOKEN, startSandbox, startWorker, secretsFor, eventsCsv, sandboxJson } from "./harness.mjs";

const CLI = path.join(ROOT, "dist/pkg/bin/cio-backfill.mjs");
let sb, w, dir;

before(async () => {
  sb = await startSandbox({ port: 0 });
  w = await startWorker({ bindings: secretsFor("track", sb.url) });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-via-"));
});
after(async () => {
  await w?.close?.();
  await sb?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Run the command line (asynchronously: the sandbox and the Worker answer from this process). */
function cli(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

test("--via sends the file through the worker in chunks; rejected rows keep the file's line numbers; a re-run duplicates nothing", async () => {
  const n = 3000;
  const bad = [7, 1500, 2999];
  const file = path.join(dir, "events.csv");
  fs.writeFileSync(file, eventsCsv(n, { bad, quotedNewlines: true }));
  const rejected = path.join(dir, "events.rejected.csv");
  const summaryFile = path.join(dir, "summary.json");
  const args = ["import", file, "--kind", "events", "--via", w.url, "--chunk-bytes", "40000", "--rejected", rejected, "--summary", summaryFile];

  const noToken = await cli(args, { CIO_IMPORT_TOKEN: "" });
  assert.equal(noToken.status, 2, noToken.stderr);
  assert.match(noToken.stderr, /import token/);
  const wrong = await cli([...args, "--token", "wrong"]);
  assert.equal(wrong.status, 2, wrong.stderr);
  assert.match(wrong.stderr, /E_AUTH_TOKEN/);

  const r = await cli(args, { CIO_IMPORT_TOKEN: TOKEN });
  assert.equal(r.status, 1, r.stderr); // some rows rejected
  assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN), "the token is never printed");
  const s = JSON.parse(fs.readFileSync(summaryFile, "utf8"));
  assert.ok(s.chunks > 2, `several chunks (${s.chunks})`);
  assert.equal(s.rows, n);
  assert.equal(s.rejected, bad.length);
  assert.equal(s.sent, n - bad.length);
  assert.equal(s.rows, s.sent + s.rejected + s.apiRejected + s.failed);
  assert.deepEqual([s.pins.delimiter, s.pins.encoding], [",", "utf-8"], "every chunk was pinned to the first rows' choices");
  assert.match(r.stderr, /every chunk as the file's first rows say: types [^;\n]+; (dates \w+ first; )?delimiter ","; utf-8\n/);

  // The rejected rows, with the file's own line numbers (each data row of eventsCsv with quoted newlines spans 2 lines).
  const text = fs.readFileSync(rejected, "utf8");
  assert.equal(text.split("\n")[0].split(",").slice(-3).join(","), "line,code,reason");
  const lines = [...text.matchAll(/,(\d+),(id_missing|event_name_missing|timestamp_invalid),/g)].map((m) => Number(m[1]));
  const fileLines = fs.readFileSync(file, "utf8").split("\n");
  assert.equal(lines.length, bad.length, text);
  for (const l of lines) assert.ok(fileLines[l - 1] !== undefined, `line ${l} exists`);

  const events = await sandboxJson(sb, "/__sandbox/events?api=track");
  assert.equal(events.length, n - bad.length);

  // Again: the Worker's ledger replays the completed chunks (and Track would deduplicate the content-addressed
  // ids anyway); nothing new is stored.
  const again = await cli(args, { CIO_IMPORT_TOKEN: TOKEN });
  assert.equal(again.status, 1, again.stderr);
  const s2 = JSON.parse(fs.readFileSync(summaryFile, "utf8"));
  assert.equal(s2.replayedChunks, s2.chunks, "every chunk was replayed, not sent again");
  const after2 = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(after2.track.events, n - bad.length);
});
