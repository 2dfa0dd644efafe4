// Errors as JSON with a code: bad token, bad configuration, body too large, upstream auth failure.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startSandbox, secretsFor, postImport, peopleCsv, sandboxJson, TOKEN } from "./harness.mjs";

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

const assertNoSecrets = (text) => {
  for (const s of [TOKEN, "track_key_test", "cdp_key_test", "site_test"]) assert.ok(!text.includes(s), `the answer must not echo ${s}`);
};

test("bad token: 401 E_AUTH_TOKEN, before the body is read, nothing sent", async () => {
  const w = await worker(secretsFor("track", sb.url));
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  for (const [token, why] of [[null, /Authorization: Bearer/], ["wrong-token", /wrong/], [TOKEN + "x", /wrong/], [TOKEN.slice(0, -1), /wrong/]]) {
    const r = await postImport(w.url, { kind: "people" }, peopleCsv(5), { token });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, "E_AUTH_TOKEN");
    assert.match(r.json.error.message, why);
    assert.match(r.headers.get("www-authenticate"), /^Bearer/);
    assertNoSecrets(r.text);
  }
  const basic = await fetch(`${w.url}/import?kind=people`, { method: "POST", headers: { authorization: `Basic ${btoa("a:" + TOKEN)}` }, body: "id\n1\n" });
  assert.equal(basic.status, 401);
  // Even an unknown parameter is not reported before the token is checked.
  const r = await postImport(w.url, { kind: "people", nonsense: "1" }, peopleCsv(1), { token: "nope" });
  assert.equal(r.status, 401);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).requests, 0);
});

test("missing secrets and bad variables: E_CONFIG naming what is wrong, never a value", async () => {
  const noToken = await worker(secretsFor("track", sb.url, { IMPORT_TOKEN: undefined }));
  let r = await postImport(noToken.url, { kind: "people" }, peopleCsv(1));
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, "E_CONFIG");
  assert.match(r.json.error.message, /IMPORT_TOKEN/);

  const noKey = await worker(secretsFor("track", sb.url, { CIO_TRACK_API_KEY: undefined }));
  r = await postImport(noKey.url, { kind: "people" }, peopleCsv(1));
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, "E_CONFIG");
  assert.match(r.json.error.message, /CIO_TRACK_API_KEY/);
  assert.doesNotMatch(r.json.error.message, /CIO_SITE_ID/);
  assertNoSecrets(r.text);
  // A dry run needs no Customer.io keys.
  r = await postImport(noKey.url, { kind: "people", "dry-run": "1" }, peopleCsv(2));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.unsent, 2);

  const noCdp = await worker(secretsFor("pipelines", sb.url, { CIO_API_KEY: "  " }));
  r = await postImport(noCdp.url, { kind: "people" }, peopleCsv(1));
  assert.equal(r.status, 500);
  assert.match(r.json.error.message, /CIO_API_KEY/);

  const badApi = await worker(secretsFor("track", sb.url, { CIO_API: "v1" }));
  r = await postImport(badApi.url, { kind: "people" }, peopleCsv(1));
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, "E_CONFIG");
  assert.match(r.json.error.message, /CIO_API/);

  const badEndpoint = await worker(secretsFor("track", "ftp://example.com/x"));
  r = await postImport(badEndpoint.url, { kind: "people" }, peopleCsv(1));
  assert.equal(r.status, 500);
  assert.match(r.json.error.message, /CIO_ENDPOINT/);

  const badRegion = await worker(secretsFor("track", sb.url, { CIO_REGION: "ap" }));
  r = await postImport(badRegion.url, { kind: "people" }, peopleCsv(1));
  assert.equal(r.status, 500);
  assert.match(r.json.error.message, /CIO_REGION/);
});

test("bad requests: 400 E_CONFIG (unknown parameter, no kind, bad values)", async () => {
  const w = await worker(secretsFor("track", sb.url));
  const cases = [
    [{ kind: "people", "id-colum": "x" }, /unknown query parameter "id-colum"/],
    [{}, /kind=people or kind=events/],
    [{ kind: "users" }, /kind=people or kind=events/],
    [{ kind: "people", chunk: "-1" }, /chunk/],
    [{ kind: "people", "dry-run": "maybe" }, /dry-run/],
    [{ kind: "people", "date-order": "ymd" }, /date-order/],
    [{ kind: "people", source: "a b" }, /source/],
    [{ kind: "people", mapping: "{nope" }, /mapping must be JSON/],
    [{ kind: "people", delimiter: "ab" }, /delimiter/],
    [{ kind: "people", "default-zone": "Mars/Olympus" }, /zone/],
  ];
  for (const [q, re] of cases) {
    const r = await postImport(w.url, q, peopleCsv(1));
    assert.equal(r.status, 400, `${JSON.stringify(q)}: ${r.text}`);
    assert.equal(r.json.error.code, "E_CONFIG");
    assert.match(r.json.error.message, re);
  }
  const r = await postImport(w.url, { kind: "people" }, peopleCsv(1), { headers: { "x-chunk-sha256": "abc" } });
  assert.equal(r.status, 400);
});

test("body too large: 413 E_TOO_LARGE from Content-Length, and while streaming", async () => {
  const w = await worker(secretsFor("track", sb.url, { MAX_CHUNK_BYTES: "20000" }));
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const big = peopleCsv(1000); // ~45 KB
  let r = await postImport(w.url, { kind: "people" }, big);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, "E_TOO_LARGE");
  assert.equal(r.json.maxChunkBytes, 20000);
  assert.equal(r.json.chunkBytes, 10000);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).requests, 0, "refused before reading");

  // No Content-Length (a stream): counted while it streams.
  const bytes = new TextEncoder().encode(big);
  const stream = new ReadableStream({
    start(c) {
      for (let o = 0; o < bytes.length; o += 4096) c.enqueue(bytes.slice(o, o + 4096));
      c.close();
    },
  });
  r = await postImport(w.url, { kind: "people" }, stream);
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.error.code, "E_TOO_LARGE");
  assert.ok(r.json.summary, "the rows handled so far are reported");

  // Just under the limit is fine.
  r = await postImport(w.url, { kind: "people" }, peopleCsv(300));
  assert.equal(r.status, 200, r.text);
});

test("upstream refuses the Worker's keys: 502 E_UPSTREAM_AUTH (Track and Pipelines strict mode)", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const t = await worker(secretsFor("track", sb.url, { CIO_TRACK_API_KEY: "revoked-key" }));
  let r = await postImport(t.url, { kind: "people" }, peopleCsv(20));
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, "E_UPSTREAM_AUTH");
  assert.match(r.json.error.message, /CIO_SITE_ID and CIO_TRACK_API_KEY/);
  assert.ok(!r.text.includes("revoked-key"));
  assert.equal(r.json.summary.sent, 0);
  assert.equal(r.json.summary.failed, 20);

  const p = await worker(secretsFor("pipelines", sb.url, { CIO_API_KEY: "revoked-key" }));
  r = await postImport(p.url, { kind: "people" }, peopleCsv(20));
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, "E_UPSTREAM_AUTH");
  assert.match(r.json.error.message, /CIO_API_KEY/);
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.track.people + sum.pipelines.people, 0);
  assert.ok(sum.pipelines.unauthorized >= 1, "strict mode: the sandbox answered 401, not a silent 200");
});

test("CORS only for ALLOWED_ORIGINS", async () => {
  const w = await worker(secretsFor("track", sb.url, { ALLOWED_ORIGINS: "https://importer.example.com" }));
  let r = await fetch(`${w.url}/import`, { method: "OPTIONS", headers: { origin: "https://importer.example.com", "access-control-request-method": "POST" } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get("access-control-allow-origin"), "https://importer.example.com");
  assert.match(r.headers.get("access-control-allow-headers"), /Authorization/);
  r = await fetch(`${w.url}/import`, { method: "OPTIONS", headers: { origin: "https://evil.example.com" } });
  assert.equal(r.headers.get("access-control-allow-origin"), null);
});
