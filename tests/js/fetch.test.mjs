// run()'s `fetch` option and the package's threadFetch (js/fetch-thread.mjs, what the command line sends with),
// against the sandbox: faults, 207s, abort, an unreachable api.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSandbox } from "../sandbox/server.mjs";
import { Importer, ready } from "../../dist/pkg/node.js";
import { spawn } from "node:child_process";
import { threadFetch } from "../../dist/pkg/fetch-thread.mjs";
import { CREDS, makeCsv, assertStoredExactly, assertAddsUp, rejectedLines, streamOf, storedPeople } from "./helpers.mjs";

const enc = new TextEncoder();
const importer = (url, api, kind, extra = {}) => new Importer({ api, kind, endpoint: url, credentials: CREDS[api], ...extra });

describe("run({ fetch })", () => {
  before(() => ready);

  test("a fetch passed to run() makes every request; the global fetch is not used", async () => {
    const seen = [];
    const own = async (url, init) => {
      seen.push({ url, init });
      const body = JSON.parse(new TextDecoder().decode(init.body));
      assert.ok(Array.isArray(body.batch));
      return new Response("{}", { status: 200 });
    };
    const global = globalThis.fetch;
    globalThis.fetch = () => assert.fail("the global fetch was called");
    try {
      const { text, good, bad } = makeCsv("events", 500, { seed: 5 });
      // The endpoint is not listening: only `own` can answer.
      const s = await importer("http://127.0.0.1:9", "track", "events", { batchBytes: 20_000 }).run(streamOf(enc.encode(text)), { fetch: own });
      assertAddsUp(s);
      assert.equal(s.sent, good.length);
      assert.equal(s.rejected, bad.length);
      assert.equal(seen.length, s.requests);
      assert.ok(seen.length > 1);
      for (const { url, init } of seen) {
        assert.equal(url, "http://127.0.0.1:9/api/v2/batch");
        assert.equal(init.method, "POST");
        assert.match(init.headers.authorization, /^Basic /);
        assert.ok(init.body instanceof Uint8Array);
        assert.ok(init.signal instanceof AbortSignal);
      }
    } finally {
      globalThis.fetch = global;
    }
  });

  test("a fetch that rejects is a network error: retried, then E_NETWORK when the api never answered", async () => {
    let calls = 0;
    const down = async () => {
      calls++;
      throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") });
    };
    const { text } = makeCsv("people", 50, { seed: 2 });
    const err = await importer("http://127.0.0.1:9", "track", "people")
      .run(streamOf(enc.encode(text)), { fetch: down })
      .then(() => assert.fail("expected E_NETWORK"), (e) => e);
    assert.equal(err.code, "E_NETWORK");
    assert.match(err.message, /cannot reach the api: network error: fetch failed: connect econnrefused/);
    assert.equal(calls, 3, "three network errors before any answer stop the run");
    assertAddsUp(err.summary);
  });

  test("fetch that is not a function is E_CONFIG", async () => {
    const { text } = makeCsv("people", 5);
    const err = await importer("http://127.0.0.1:9", "track", "people")
      .run(streamOf(enc.encode(text)), { fetch: "fetch" })
      .then(() => assert.fail("expected E_CONFIG"), (e) => e);
    assert.equal(err.code, "E_CONFIG");
    assert.match(err.message, /expected options\.fetch to be a function, found string/);
  });
});

describe("threadFetch", () => {
  let sb;
  before(async () => {
    await ready;
    sb = await startSandbox({ port: 0 });
  });
  after(() => sb.close());

  for (const [api, response] of [["track", "Response"], ["pipelines", "Response"], ["track", "plain"]]) {
    test(`${api}, ${response} answers: under 5xx, 429 with Retry-After and dropped connections, the sandbox ends with every valid row`, async () => {
      await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
      await fetch(`${sb.url}/__sandbox/faults`, {
        method: "POST",
        body: JSON.stringify({ seed: 3, errorRate: 0.1, rateLimitEvery: 9, retryAfter: 0, dropRate: 0.03 }),
      });
      const f = threadFetch({ response });
      try {
        const { text, good, bad } = makeCsv("events", 3000, { seed: 13 });
        const imp = importer(sb.url, api, "events", { batchBytes: 30_000 });
        let rejected = "";
        const s = await imp.run(streamOf(enc.encode(text), 9000), { fetch: f, onProgress: () => (rejected += imp.takeRejectedCsv()) });
        rejected += imp.takeRejectedCsv();
        assertAddsUp(s);
        assert.equal(s.sent, good.length, JSON.stringify(s));
        assert.ok(s.retries > 0, "the faults were retried");
        assert.deepEqual(rejectedLines(rejected).map((r) => r.line), bad.map((b) => b.line));
        await assertStoredExactly(sb, api, "events", good);
      } finally {
        await f.close();
        await fetch(`${sb.url}/__sandbox/faults`, { method: "POST", body: "{}" });
      }
    });
  }

  for (const response of ["Response", "plain"]) {
    test(`a 207 answer crosses the thread intact (${response}): status, headers and body`, async () => {
      await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
      const f = threadFetch({ response });
      try {
        // The core never sends an entry the sandbox would refuse, so this asks directly: an empty identifier.
        const body = enc.encode(JSON.stringify({ batch: [{ type: "person", identifiers: { id: "" }, action: "identify" }] }));
        const auth = "Basic " + btoa(`${CREDS.track.siteId}:${CREDS.track.apiKey}`);
        // headers as a plain object, and as a Headers object (the other path to the thread)
        for (const headers of [{ "Content-Type": "application/json", authorization: auth }, new Headers({ "content-type": "application/json", authorization: auth })]) {
          const r = await f(`${sb.url}/api/v2/batch`, { method: "POST", headers, body: body.slice() });
          assert.equal(r instanceof Response, response === "Response");
          assert.equal(r.status, 207);
          assert.equal(r.ok, true);
          assert.match(r.headers.get("Content-Type"), /json/, "header names in any case");
          assert.equal(r.headers.get("x-not-sent"), null);
          const j = await r.json();
          assert.equal(j.errors[0].batch_index, 0);
        }
        const refused = await f(`${sb.url}/api/v2/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: body.slice() });
        assert.equal(refused.status, 401, "no credentials");
        assert.equal(refused.ok, false);
        assert.match(await refused.text(), /./);
      } finally {
        await f.close();
      }
    });
  }

  test("an idle thread does not keep Node alive, nor one whose requests are over", async () => {
    const url = new URL("../../dist/pkg/fetch-thread.mjs", import.meta.url).href;
    const scripts = [
      `import(${JSON.stringify(url)}).then((m) => { m.threadFetch(); m.threadFetch({ response: "plain" }); })`,
      `import(${JSON.stringify(url)}).then(async (m) => { await m.threadFetch()(${JSON.stringify(sb.url + "/__sandbox/summary")}); })`,
    ];
    for (const script of scripts) {
      // spawned, not spawnSync: the second script asks this process's sandbox
      const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const [code, signal] = await new Promise((r) => child.on("close", (c, sig) => r([c, sig])));
      clearTimeout(killer);
      assert.equal(signal, null, `exited by itself, not killed after 20 s: ${script}`);
      assert.equal(code, 0, stderr);
    }
  });

  test("bodies of every kind arrive intact; a view is copied before the call returns", async () => {
    // A server that answers with the length and digest of what it received.
    const { createServer } = await import("node:http");
    const { createHash } = await import("node:crypto");
    const server = createServer((req, res) => {
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (c) => { h.update(c); n += c.length; });
      req.on("end", () => res.end(JSON.stringify({ n, digest: h.digest("hex") })));
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${server.address().port}/`;
    const digest = (b) => createHash("sha256").update(b).digest("hex");
    const f = threadFetch({ response: "plain" });
    try {
      // Views into a larger buffer, of many sizes, four out at a time as the importer sends; the source is
      // overwritten as soon as each call returns.
      const memory = new Uint8Array(2 << 20);
      let seed = 7;
      for (let round = 0; round < 6; round++) {
        const sizes = [0, 1, 4096, 500_000, 700_000, 1_500_000, 64, 524_288].map((n) => (n + round * 13) % (memory.length - 16));
        for (let i = 0; i < sizes.length; i += 4) {
          const out = sizes.slice(i, i + 4).map((n) => {
            for (let k = 0; k < n + 16; k++) memory[k] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
            const view = memory.subarray(16, 16 + n);
            const want = { n, digest: digest(view) };
            const p = f(url, { method: "POST", body: view });
            memory.fill(0xee); // the call has returned: the bytes are the caller's again
            return p.then(async (r) => assert.deepEqual(await r.json(), want, `round ${round}, ${n} bytes`));
          });
          await Promise.all(out);
        }
      }
      // A Uint8Array that spans its buffer is transferred, a string encoded: both arrive too.
      const whole = new Uint8Array(1000).fill(65);
      const want = digest(whole);
      assert.deepEqual(await (await f(url, { method: "POST", body: whole })).json(), { n: 1000, digest: want });
      assert.equal(whole.byteLength, 0, "transferred");
      assert.deepEqual(await (await f(url, { method: "POST", body: "A".repeat(1000) })).json(), { n: 1000, digest: want });
    } finally {
      await f.close();
      server.close();
    }
  });

  test("threadFetch refuses an unknown answer kind", () => {
    assert.throws(() => threadFetch({ response: "json" }), { name: "TypeError", message: /expected response "Response" or "plain", found "json"/ });
  });

  test("an AbortSignal cancels the run; requests out on the thread are abandoned and the thread closes", async () => {
    const slow = await startSandbox({ port: 0, faults: { latencyMs: 200 } });
    const f = threadFetch();
    try {
      const { text } = makeCsv("people", 3000);
      const imp = importer(slow.url, "track", "people", { batchBytes: 5000, concurrency: 2 });
      const ac = new AbortController();
      const err = await imp
        .run(streamOf(enc.encode(text)), { fetch: f, signal: ac.signal, onProgress: (p) => p.sent > 0 && ac.abort() })
        .then(() => assert.fail("expected E_ABORTED"), (e) => e);
      assert.equal(err.code, "E_ABORTED");
      assertAddsUp(err.summary);
      assert.ok(err.summary.failed > 0);
      // Aborted requests may still reach the sandbox; what it stored is at least what was counted sent.
      assert.ok((await storedPeople(slow, "track")).size >= err.summary.sent);
    } finally {
      await f.close();
      await slow.close();
    }
    await assert.rejects(f("http://127.0.0.1:9/"), /stopped/, "a closed thread refuses new requests");
  });

  test("an unreachable api is E_NETWORK with the socket's error, as with the global fetch", async () => {
    const f = threadFetch();
    try {
      const { text } = makeCsv("people", 20);
      const err = await importer("http://127.0.0.1:9", "track", "people")
        .run(streamOf(enc.encode(text)), { fetch: f })
        .then(() => assert.fail("expected E_NETWORK"), (e) => e);
      assert.equal(err.code, "E_NETWORK");
      assert.match(err.message, /cannot reach the api: network error: fetch failed: connect econnrefused 127\.0\.0\.1:9/);
    } finally {
      await f.close();
    }
  });
});
