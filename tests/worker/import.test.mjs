// People and events through both APIs: the sandbox ends with exactly the valid rows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startSandbox, secretsFor, postImport, peopleCsv, eventsCsv, sandboxJson } from "./harness.mjs";

let sb;
const workers = {};
before(async () => {
  sb = await startSandbox({ port: 0 });
  workers.track = await startWorker({ bindings: secretsFor("track", sb.url) });
  workers.pipelines = await startWorker({ bindings: secretsFor("pipelines", sb.url) });
});
after(async () => {
  for (const w of Object.values(workers)) await w.close();
  await sb.close();
});

for (const api of ["track", "pipelines"]) {
  test(`${api}: people, one invalid row rejected, the rest in the sandbox`, async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    const r = await postImport(workers[api].url, { kind: "people", rejected: "1" }, peopleCsv(250, { bad: [7, 100] }));
    assert.equal(r.status, 200, r.text);
    const s = r.json;
    assert.equal(s.rows, 250);
    assert.equal(s.valid, 248);
    assert.equal(s.rejected, 2);
    assert.equal(s.sent, 248);
    assert.equal(s.failed, 0);
    assert.equal(s.complete, true);
    assert.equal(s.replayed, false);
    assert.equal(s.api, api);
    assert.match(s.rejectedCsv, /^id,email,first_name,plan,score,line,code,reason\n/);
    assert.deepEqual(s.rejectedCsv.trim().split("\n").slice(1).map((l) => l.split(",")[5]), ["8", "101"]); // file lines
    assert.deepEqual(s.rejectedByCode, { id_missing: 2 });
    assert.equal(s.kind, "people");
    const sum = await sandboxJson(sb, "/__sandbox/summary");
    assert.equal(sum[api].people, 248);
    const people = await sandboxJson(sb, `/__sandbox/people?api=${api}`);
    assert.equal(people.length, 248);
    if (api === "track") {
      const p5 = people.find((p) => p.identifiers.id === "5" || p.identifiers.id === 5);
      assert.equal(p5.attributes.first_name, "Name, 5");
    } else {
      const p5 = people.find((p) => String(p.userId) === "5");
      assert.equal(p5.traits.first_name, "Name, 5");
      assert.equal(sum.pipelines.droppedSilently, 0);
    }
  });

  test(`${api}: events with quoted newlines, invalid rows rejected, unique events == valid rows`, async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    const r = await postImport(workers[api].url, { kind: "events" }, eventsCsv(400, { bad: [3, 300], quotedNewlines: true }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.rows, 400);
    assert.equal(r.json.sent, 398);
    assert.equal(r.json.rejected, 2);
    assert.equal(r.json.rejectedCsv, undefined, "rejected rows only on request");
    const sum = await sandboxJson(sb, "/__sandbox/summary");
    assert.equal(sum[api].events, 398);
    const events = await sandboxJson(sb, `/__sandbox/events?api=${api}`);
    assert.equal(events.length, 398);
    const e7 = events.find((e) => (api === "track" ? e.attributes?.note : e.properties?.note) === "line one\nline two, 7");
    assert.ok(e7, "a quoted newline survives");
  });
}

test("mapping flags as query parameters (id-column, event-name, timestamp-column)", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const csv = "uid,when,sku\n1,2021-01-02T03:04:05Z,a\n2,2021-01-03T03:04:05Z,b\n";
  const r = await postImport(workers.track.url, { kind: "events", "id-column": "uid", "event-name": "bought", "timestamp-column": "when" }, csv);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.sent, 2);
  const events = await sandboxJson(sb, "/__sandbox/events?api=track");
  assert.deepEqual(events.map((e) => e.name), ["bought", "bought"]);
  assert.deepEqual(events.map((e) => e.timestamp), [1609556645, 1609643045]);
});

test("mapping as JSON (what the page sends) and the page's api/region assertions", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const csv = "uid,sku,timestamp\n1,a,1609556645\n";
  const mapping = JSON.stringify({ idColumn: "uid", eventName: "viewed" });
  const r = await postImport(workers.pipelines.url, { kind: "events", api: "pipelines", region: "us", chunk: "0", mapping, skipCampaignWindow: "1" }, csv);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.sent, 1);
  const bad = await postImport(workers.pipelines.url, { kind: "events", api: "track", mapping }, csv);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, "E_CONFIG");
  assert.match(bad.json.error.message, /CIO_API/);
});

test("dry-run sends nothing", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const r = await postImport(workers.track.url, { kind: "people", "dry-run": "1" }, peopleCsv(50));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.dryRun, true);
  assert.equal(r.json.unsent, 50);
  assert.equal(r.json.complete, false);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).requests, 0);
});

test("GET /config.json puts the page in worker mode; other paths are the static page", async () => {
  const c = await (await fetch(`${workers.track.url}/config.json`)).json();
  assert.equal(c.mode, "worker");
  assert.equal(c.endpoint, null);
  assert.equal(c.api, "track");
  assert.equal(c.chunkBytes, 4 * 1024 * 1024);
  assert.equal(c.maxChunkBytes, 8 * 1024 * 1024);
  const page = await fetch(`${workers.track.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  assert.match(await page.text(), /<html|<!doctype/i);
  const wrongMethod = await fetch(`${workers.track.url}/import`);
  assert.equal(wrongMethod.status, 405);
});

test("two imports at once in one isolate both complete", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const [a, b] = await Promise.all([
    postImport(workers.track.url, { kind: "people" }, peopleCsv(3000)),
    postImport(workers.track.url, { kind: "events" }, eventsCsv(3000)),
  ]);
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  assert.equal(a.json.sent + b.json.sent, 6000);
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.track.people, 3000 + 0);
  assert.equal(sum.track.events, 3000);
});

test("a file the mapping cannot use: 422 E_MAPPING, and the Worker keeps working", async () => {
  const r = await postImport(workers.pipelines.url, { kind: "events", "event-name": "viewed" }, "uid,sku\n1,a\n");
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, "E_MAPPING");
  assert.match(r.json.error.message, /timestamp/);
  const e = await postImport(workers.pipelines.url, { kind: "people" }, "");
  assert.equal(e.status, 422, e.text);
  assert.equal(e.json.error.code, "E_CSV");
  const z = await postImport(workers.pipelines.url, { kind: "people" }, "PK\u0003\u0004binary");
  assert.equal(z.status, 422, z.text);
  assert.equal(z.json.error.code, "E_CSV");
  assert.equal(z.json.error.reason, undefined, "no finer reason for a binary file");
  // A line of 100,001 fields stops the import: E_CSV with its reason, the row before it sent.
  const wide = await postImport(workers.pipelines.url, { kind: "people" }, `id\n1\n${",".repeat(100_000)}\n2\n`);
  assert.equal(wide.status, 422, wide.text);
  assert.deepEqual([wide.json.error.code, wide.json.error.reason], ["E_CSV", "too_many_fields"]);
  assert.match(wide.json.error.message, /at most 100000 fields, found more in the one starting on line 3/);
  const ok = await postImport(workers.pipelines.url, { kind: "people" }, peopleCsv(3));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.sent, 3);
});
