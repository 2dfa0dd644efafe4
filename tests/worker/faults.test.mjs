// Upstream 5xx, 429 (with Retry-After) and dropped connections are retried inside the Worker: every row is
// delivered once. And the shared rate limit: chunks in parallel never exceed the slots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startSandbox, secretsFor, postImport, peopleCsv, eventsCsv, sandboxJson, TOKEN } from "./harness.mjs";
import { importVia } from "../../js/via.mjs";

let sb;
const started = [];
async function worker(bindings, opts = {}) {
  const w = await startWorker({ bindings, ...opts });
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

for (const api of ["track", "pipelines"]) {
  test(`${api}: 500/503 and 429 + Retry-After from Customer.io are retried; every row delivered once`, async () => {
    await reset();
    const w = await worker(secretsFor(api, sb.url));
    // 12,000 events ≈ 9 batches; forced faults first, then random ones.
    await faults({ seed: 7, sequence: [503, 429, 500, 429], errorRate: 0.2, rateLimitEvery: 5, retryAfter: 1 });
    const r = await postImport(w.url, { kind: "events" }, eventsCsv(12_000));
    assert.equal(r.status, 200, r.text);
    const s = r.json;
    assert.equal(s.sent, 12_000);
    assert.equal(s.failed, 0);
    assert.ok(s.retries >= 4, `retries: ${s.retries}`);
    const sum = await sandboxJson(sb, "/__sandbox/summary");
    assert.ok(sum.byStatus["429"] >= 2);
    assert.ok((sum.byStatus["500"] ?? 0) + (sum.byStatus["503"] ?? 0) >= 2);
    assert.equal(sum[api].events, 12_000);
    if (api === "track") assert.equal(sum.track.duplicateEvents, 0);
    else assert.equal(sum.pipelines.duplicateMessages, 0);
    await faults({});
  });
}

test("dropped connections (the request was processed, the answer lost): retried, no duplicate events on Track", async () => {
  await reset();
  const w = await worker(secretsFor("track", sb.url));
  await faults({ seed: 3, sequence: ["drop", "ok", "drop"] });
  const r = await postImport(w.url, { kind: "events" }, eventsCsv(5000));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.sent, 5000);
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.track.events, 5000);
  assert.ok(sum.track.duplicateEvents > 0, "the dropped requests were stored, then re-sent and deduplicated");
  await faults({});
});

test("an upstream that keeps failing: rows end as failed (not lost), the answer says the chunk is incomplete", async () => {
  await reset();
  const w = await worker(secretsFor("track", sb.url, { CIO_MAX_ATTEMPTS: "2" }));
  await faults({ errorRate: 1 });
  const r = await postImport(w.url, { kind: "people", rejected: "1" }, peopleCsv(30));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.failed, 30);
  assert.equal(r.json.complete, false);
  assert.equal(r.json.rejectedCsv.trim().split("\n").length, 31, "the failed rows are in the rejected CSV, to re-import");
  await faults({});
});

test("an upstream that never answers: 502 E_UPSTREAM_NETWORK (the chunk can be sent again)", async () => {
  await reset();
  const w = await worker(secretsFor("track", "http://127.0.0.1:9")); // nothing listens on port 9
  const r = await postImport(w.url, { kind: "people" }, peopleCsv(10));
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, "E_UPSTREAM_NETWORK");
  assert.equal(r.json.summary.sent, 0);
});

test("shared rate limit: chunks in parallel get at most MAX_PARALLEL_CHUNKS slots; the rest wait (E_BUSY) and succeed", async () => {
  await reset();
  // 10 requests/s in all, 2 slots (5/s each); the client tries 6 chunks at once.
  const w = await worker(secretsFor("track", sb.url, { MAX_PARALLEL_CHUNKS: "2", CIO_RATE_LIMIT: "10", CIO_CONCURRENCY: "2" }));
  await faults({ latencyMs: 50 });
  const s = await importVia({ url: w.url, token: TOKEN, file: new Blob([eventsCsv(1600)]), kind: "events", chunkBytes: 5 * 1024, parallel: 6 });
  await faults({});
  assert.ok(s.chunks >= 12, `chunks: ${s.chunks}`);
  assert.equal(s.failed, 0);
  assert.equal(s.sent, 1600);
  assert.ok(s.busyWaits > 0, "some chunks had to wait for a slot");
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.track.events, 1600);
  assert.ok(sum.maxConcurrent <= 2 * 2, `at most slots × CIO_CONCURRENCY requests at once, saw ${sum.maxConcurrent}`);
  assert.ok(sum.maxPerSecond <= 10, `at most CIO_RATE_LIMIT requests in any second, saw ${sum.maxPerSecond}`);
});
