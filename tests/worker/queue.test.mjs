// Queue mode (R2 + Queues + the ImportJob Durable Object): chunks are stored and queued, the Worker's queue
// consumer imports them under the shared rate limit, and a chunk delivered twice never duplicates events.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startSandbox, secretsFor, postImport, peopleCsv, eventsCsv, sandboxJson, TOKEN } from "./harness.mjs";
import { importVia } from "../../js/via.mjs";

let sb;
const started = [];
async function worker(bindings, opts = {}) {
  const w = await startWorker({ bindings, queue: true, ...opts });
  started.push(w);
  return w;
}
before(async () => {
  sb = await startSandbox({ port: 0 });
});
after(async () => {
  for (const w of started) await w.close();
  await sb.close();
});
const reset = () => fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
const faults = (f) => fetch(`${sb.url}/__sandbox/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(f) });
const jobOf = async (w, source) => (await fetch(`${w.url}/jobs/${source}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
async function waitFinished(w, source, n) {
  for (let i = 0; i < 200; i++) {
    const j = await jobOf(w, source);
    if (j.finished && j.states.done + j.states.failed >= n) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the job did not finish");
}

test("track: a chunked upload through the queue, with upstream 503/429: every row once, the file's line numbers", async () => {
  await reset();
  const w = await worker(secretsFor("track", sb.url));
  await faults({ seed: 5, sequence: [503, 429, 500], errorRate: 0.1, retryAfter: 1 });
  const csv = eventsCsv(4000, { bad: [17, 3999], quotedNewlines: true });
  const s = await importVia({ url: w.url, token: TOKEN, file: new Blob([csv]), kind: "events", queue: true, rejected: true, chunkBytes: 32 * 1024, parallel: 3, pollMs: 200 });
  await faults({});
  assert.ok(s.chunksQueued >= 6, `chunks queued: ${s.chunksQueued}`);
  assert.equal(s.job.finished, true);
  assert.equal(s.rows, 4000);
  assert.equal(s.sent, 3998);
  assert.equal(s.rejected, 2);
  assert.equal(s.failed, 0);
  assert.equal(s.checkpoint, 4000);
  assert.deepEqual(s.rejectedByCode, { event_name_missing: 2 });
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.track.events, 3998);
  assert.ok(sum.byStatus["503"] >= 1 && sum.byStatus["429"] >= 1);
  const lines = s.rejectedCsv.trim().split("\n");
  assert.equal(lines.length, 3, s.rejectedCsv);
  const fileLines = csv.split("\n");
  for (const l of lines.slice(1)) {
    const n = Number(l.split(",")[5]);
    assert.equal(l.split(",").slice(0, 3).join(","), fileLines[n - 1].split(",").slice(0, 3).join(","), `line ${n}`);
  }
});

test("pipelines: the same chunk queued twice, and a re-run of the upload: nothing sent twice", async () => {
  await reset();
  const w = await worker(secretsFor("pipelines", sb.url));
  const body = peopleCsv(300);
  const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const q = { kind: "people", queue: "1", chunk: "0", source: "twice" };
  const [a, b] = await Promise.all([postImport(w.url, q, body, { headers: { "x-chunk-sha256": sha } }), postImport(w.url, q, body, { headers: { "x-chunk-sha256": sha } })]);
  assert.equal(a.status, 202, a.text);
  assert.equal(b.status, 202, b.text);
  const job = await waitFinished(w, "twice", 1);
  assert.equal(job.sent, 300);
  let sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.pipelines.people, 300);
  assert.equal(sum.requests, 1, "one Customer.io request: the second delivery was answered from the ledger");
  // Once done, the same chunk is answered at once from the ledger, without queueing.
  const c = await postImport(w.url, q, body, { headers: { "x-chunk-sha256": sha } });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.replayed, true);

  const csv = eventsCsv(2000);
  const first = await importVia({ url: w.url, token: TOKEN, file: new Blob([csv]), kind: "events", queue: true, chunkBytes: 24 * 1024, pollMs: 200 });
  assert.equal(first.sent, 2000);
  const before = (await sandboxJson(sb, "/__sandbox/summary")).requests;
  const again = await importVia({ url: w.url, token: TOKEN, file: new Blob([csv]), kind: "events", queue: true, chunkBytes: 24 * 1024, pollMs: 200 });
  assert.equal(again.sent, 2000);
  assert.equal(again.chunksQueued, 0, "every chunk was answered from the ledger");
  sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.requests, before);
  assert.equal(sum.pipelines.duplicateMessages, 0);
});

test("queue mode: refused keys mark the chunk failed (E_UPSTREAM_AUTH); missing bindings and Content-Length are errors", async () => {
  await reset();
  const w = await worker(secretsFor("track", sb.url, { CIO_TRACK_API_KEY: "revoked" }));
  await assert.rejects(
    importVia({ url: w.url, token: TOKEN, file: new Blob([peopleCsv(50)]), kind: "people", queue: true, pollMs: 100 }),
    (e) => e.code === "E_UPSTREAM_AUTH" && e.summary.job.states.failed === 1,
  );
  const plain = await startWorker({ bindings: secretsFor("track", sb.url) });
  started.push(plain);
  let r = await postImport(plain.url, { kind: "people", queue: "1", chunk: "0", source: "x" }, peopleCsv(2));
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, "E_CONFIG");
  assert.match(r.json.error.message, /UPLOADS, IMPORTS, JOBS/);
  r = await postImport(w.url, { kind: "people", queue: "1" }, peopleCsv(2));
  assert.equal(r.status, 400);
  const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(peopleCsv(2))), c.close()) });
  r = await postImport(w.url, { kind: "people", queue: "1", chunk: "0", source: "y" }, stream);
  assert.equal(r.status, 411);
  assert.equal(r.json.error.code, "E_LENGTH_REQUIRED");
  r = await fetch(`${w.url}/jobs/y`);
  assert.equal(r.status, 401);
});
