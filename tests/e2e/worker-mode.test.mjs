// Worker mode (config.json "mode": "worker"): the page checks the file locally with the engine, then sends it
// through the importer's Cloudflare Worker as self-contained CSV chunks with a bearer token. The Worker here is
// a stub that records what it gets (the real one is built elsewhere); the test checks the page's side of the contract.
import test from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs";
import { launch, newPage, waitForColumns, runCheck, waitForSummary, shot, parseCsv, tmpDir } from "./harness.mjs";
import { startStaticServer } from "./static-server.mjs";

function startStubWorker(token) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const cors = { "access-control-allow-origin": req.headers.origin ?? "*", "access-control-allow-headers": "authorization, content-type, x-chunk-sha256", "access-control-allow-methods": "POST" };
    if (req.method === "OPTIONS") { res.writeHead(204, cors).end(); return; }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), auth: req.headers.authorization, type: req.headers["content-type"], body });
      if (req.headers.authorization !== `Bearer ${token}`) { res.writeHead(401, cors).end("{}"); return; }
      const rows = parseCsv(body).length - 1;
      // The probe (a dry run of the first rows) is answered with what the real Worker decided from them.
      const dry = url.searchParams.get("dry-run") === "1";
      const pins = { delimiter: ",", encoding: "utf-8", typeHints: { note: "string" } };
      res.writeHead(200, { ...cors, "content-type": "application/json" }).end(JSON.stringify({ rows, valid: rows, rejected: 0, sent: dry ? 0 : rows, apiRejected: 0, failed: 0, requests: 1, retries: 0, ...(dry ? { pins, dryRun: true } : {}) }));
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ url: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((c) => server.close(c)) })));
}

test("worker mode: an import token instead of keys; the file goes as self-contained CSV chunks", async (t) => {
  const token = "tok_e2e_123456";
  const stub = await startStubWorker(token);
  const web = await startStaticServer({ config: { endpoint: stub.url, mode: "worker" } });
  const context = await launch();
  t.after(async () => { await context.close(); await web.close(); await stub.close(); });
  const page = await newPage(context, web.url);

  // ~9 MB with quoted multi-line cells, so it splits into several chunks
  const dir = tmpDir("worker");
  const lines = ["id,email,note"];
  const n = 60_000;
  for (let i = 1; i <= n; i++) lines.push(`${i},u${i}@example.com,"line one of ${i}\nline two, with a comma ""and quotes"" ${"x".repeat(100)}"`);
  const file = `${dir}/people-worker.csv`;
  fs.writeFileSync(file, lines.join("\n") + "\n");

  assert.equal(await page.locator("#mode-badge").textContent(), "Through the importer Worker");
  assert.ok(await page.locator("#import-token").isVisible());
  assert.ok(!(await page.locator("#api-key").isVisible()));
  await page.fill("#import-token", token);
  await page.click("#connect-continue");
  await page.locator("input[name=kind][value=people]").check();
  await page.setInputFiles("#file", file);
  await waitForColumns(page);
  await runCheck(page);
  await page.click("#send");
  const s = await waitForSummary(page);
  await shot(page, "33-worker-mode");
  assert.equal(s.sent, n);

  // First a probe: a dry run of the header and the first 1000 records, whose answer pins every chunk's choices.
  const [probe, ...sent] = stub.requests;
  assert.equal(probe.query["dry-run"], "1");
  assert.equal(probe.query.chunk, undefined);
  assert.equal(parseCsv(probe.body).length - 1, 1000, "the probe holds the importer's sample");
  assert.equal(probe.auth, `Bearer ${token}`);
  assert.ok(sent.length >= 2, `several chunks (${sent.length})`);
  const seen = [];
  let records = 0;
  sent.forEach((r, i) => {
    // where the chunk starts in the file, so the Worker's line numbers are the file's; one source id for the upload
    assert.equal(r.query["record-offset"], String(records));
    assert.equal(r.query.source, sent[0].query.source);
    assert.equal(r.query.rejected, "1");
    records += parseCsv(r.body).length - 1;
    assert.equal(r.path, "/import");
    assert.equal(r.auth, `Bearer ${token}`);
    assert.equal(r.query.chunk, String(i));
    assert.equal(r.query.kind, "people");
    assert.deepEqual([r.query["type-hint"], r.query.delimiter, r.query.encoding], ["note=string", ",", "utf-8"], "the probe's pins on every chunk");
    assert.ok(!JSON.stringify(r.query).includes(token), "the token is never in the URL");
    const rows = parseCsv(r.body);
    assert.deepEqual(rows[0], ["id", "email", "note"], "each chunk starts with the header");
    for (const row of rows.slice(1)) {
      assert.equal(row.length, 3);
      assert.match(row[2], /^line one of \d+\nline two, with a comma "and quotes" x+$/);
      seen.push(Number(row[0]));
    }
  });
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i + 1), "every record once, in order, none split");
  assert.ok(!(await page.content()).includes(token));
  assert.deepEqual(page.errors, []);
});
