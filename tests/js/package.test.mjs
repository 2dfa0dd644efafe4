// The built package (dist/pkg, `make build`) in Node, against the sandbox: both APIs, both kinds.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs, { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startSandbox } from "../sandbox/server.mjs";
import { Importer, ready, version } from "../../dist/pkg/node.js";
import {
  CREDS,
  makeCsv,
  sandboxSummary,
  storedPeople,
  assertStoredExactly,
  assertAddsUp,
  rejectedLines,
  streamOf,
} from "./helpers.mjs";

const enc = new TextEncoder();
const PKG = new URL("../../dist/pkg/", import.meta.url);

function importer(sb, api, kind, extra = {}) {
  return new Importer({ api, kind, endpoint: sb.url, credentials: CREDS[api], ...extra });
}

function drainRejected(imp, into) {
  into.text += imp.takeRejectedCsv();
}

describe("package (node entry)", () => {
  let sb;
  before(async () => {
    await ready;
    sb = await startSandbox({ port: 0 });
  });
  after(() => sb.close());

  test("version and ready", async () => {
    const pkg = JSON.parse(readFileSync(new URL("package.json", PKG), "utf8"));
    assert.equal(version(), pkg.version);
    assert.equal(await ready, undefined);
  });

  for (const api of ["track", "pipelines"]) {
    for (const kind of ["people", "events"]) {
      test(`${api} ${kind}: push/finish dry run + inspect`, () => {
        const { text, good, bad } = makeCsv(kind, 300, { seed: 3 });
        const imp = new Importer({ api, kind, dryRun: true, keepPayloads: true });
        assert.equal(imp.inspect().dialect, null, "nothing known before the first chunk");
        const bytes = enc.encode(text);
        for (let i = 0; i < bytes.length; i += 1000) imp.push(bytes.subarray(i, i + 1000));
        imp.finish();
        const ins = imp.inspect();
        assert.equal(ins.dialect.delimiter, ",".charCodeAt(0));
        assert.deepEqual(ins.headers, kind === "people" ? ["id", "name", "plan", "score", "note"] : ["user_id", "event", "timestamp", "amount", "note"]);
        const roles = Object.fromEntries(ins.columns.map((c) => [c.header, c.role]));
        if (kind === "people") assert.equal(roles.id, "identifier");
        else assert.deepEqual([roles.user_id, roles.event, roles.timestamp], ["identifier", "eventName", "timestamp"]);
        const s = imp.summary();
        assertAddsUp(s);
        assert.equal(s.rows, 300);
        assert.equal(s.valid, good.length);
        assert.equal(s.rejected, bad.length);
        assert.equal(s.unsent, good.length);
        assert.equal(s.sent, 0);
        const issues = imp.takeIssues().filter((i) => i.severity === "error");
        assert.deepEqual(
          issues.map((i) => [i.line, i.record, i.code]),
          bad.map((b) => [b.line, b.record, b.code]),
          "one error issue per bad row, with its line and record",
        );
        const items = imp.takePayloads().trim().split("\n").map((l) => JSON.parse(l));
        assert.equal(items.length, good.length);
        if (api === "track") assert.equal(items[0].type, "person");
        else assert.equal(items[0].type, kind === "people" ? "identify" : "track");
        assert.deepEqual(rejectedLines(imp.takeRejectedCsv()).map((r) => [r.line, r.code]), bad.map((b) => [b.line, b.code]));
        imp.free();
      });

      test(`${api} ${kind}: run(stream) sends exactly the valid rows`, async () => {
        await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
        const { text, good, bad } = makeCsv(kind, 2000, { seed: 11 });
        const imp = importer(sb, api, kind, { batchBytes: 20_000 });
        const rejected = { text: "" };
        let progress = 0;
        let last = null;
        const s = await imp.run(streamOf(enc.encode(text), 7000), {
          onProgress(p) {
            progress++;
            last = p;
            drainRejected(imp, rejected); // the importer may be called from the callback
          },
        });
        drainRejected(imp, rejected);
        assertAddsUp(s);
        assert.equal(s.rows, 2000);
        assert.equal(s.sent, good.length);
        assert.equal(s.rejected, bad.length);
        assert.equal(s.failed + s.apiRejected + s.pending, 0);
        assert.ok(s.requests > 5, `several batches (${s.requests})`);
        assert.ok(progress >= 1 && last.rows === 2000 && last.bytesRead === enc.encode(text).length, "final progress");
        assert.equal(typeof last.rowsPerSec, "number");
        assert.deepEqual(rejectedLines(rejected.text).map((r) => r.line), bad.map((b) => b.line));
        await assertStoredExactly(sb, api, kind, good);
        const sum = await sandboxSummary(sb);
        assert.equal(sum.requests, s.requests, "the sandbox saw the requests the summary counts");
      });
    }
  }

  test("track 207: the entries the api refuses are api-rejected with their lines; the rest are stored", async () => {
    const sb2 = await startSandbox({ port: 0, limits: { attributeValueBytes: 40 } });
    try {
      const lines = ["id,name,bio"];
      const refused = [];
      for (let i = 1; i <= 50; i++) {
        const long = i % 7 === 0;
        lines.push(`p${i},Name ${i},${long ? "b".repeat(60) : "short"}`);
        if (long) refused.push(i + 1);
      }
      const imp = importer(sb2, "track", "people");
      const s = await imp.run(streamOf(enc.encode(lines.join("\n") + "\n")));
      assertAddsUp(s);
      assert.equal(s.apiRejected, refused.length);
      assert.equal(s.sent, 50 - refused.length);
      const rej = rejectedLines(imp.takeRejectedCsv());
      assert.deepEqual(rej.map((r) => r.line), refused);
      assert.ok(rej.every((r) => r.code === "api_rejected"));
      const people = await storedPeople(sb2, "track");
      assert.equal(people.size, 50 - refused.length);
      for (const line of refused) assert.ok(!people.has(`p${line - 1}`));
    } finally {
      await sb2.close();
    }
  });

  test("pipelines strict 400: bisection isolates the refused items", async () => {
    const sb2 = await startSandbox({ port: 0, limits: { attributeValueBytes: 40 } });
    try {
      const lines = ["id,name,bio"];
      const refused = [];
      for (let i = 1; i <= 40; i++) {
        const long = i === 5 || i === 31;
        lines.push(`p${i},Name ${i},${long ? "b".repeat(60) : "short"}`);
        if (long) refused.push(i + 1);
      }
      const imp = importer(sb2, "pipelines", "people");
      const s = await imp.run(streamOf(enc.encode(lines.join("\n") + "\n")));
      assertAddsUp(s);
      assert.equal(s.apiRejected, 2);
      assert.equal(s.sent, 38);
      assert.ok(s.bisections > 0);
      assert.deepEqual(rejectedLines(imp.takeRejectedCsv()).map((r) => r.line), refused);
      assert.equal((await storedPeople(sb2, "pipelines")).size, 38);
    } finally {
      await sb2.close();
    }
  });

  test("dry run sends nothing", async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    const { text, good } = makeCsv("events", 500);
    const imp = importer(sb, "track", "events", { dryRun: true, keepPayloads: true });
    const s = await imp.run(streamOf(enc.encode(text)));
    assertAddsUp(s);
    assert.equal(s.unsent, good.length);
    assert.equal(s.sent, 0);
    assert.ok(s.requests >= 1, "requests that would be made");
    assert.equal(imp.takePayloads().trim().split("\n").length, good.length);
    assert.equal((await sandboxSummary(sb)).requests, 0);
  });

  for (const api of ["track", "pipelines"]) {
    test(`${api}: bad credentials reject with E_AUTH and nothing more is sent`, async () => {
      await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
      const { text } = makeCsv("people", 3000);
      const bad = api === "track" ? { siteId: "site_test", apiKey: "wrong" } : { apiKey: "wrong" };
      const imp = new Importer({ api, kind: "people", endpoint: sb.url, credentials: bad, batchBytes: 5000, concurrency: 2 });
      const err = await imp.run(streamOf(enc.encode(text))).then(
        () => assert.fail("expected E_AUTH"),
        (e) => e,
      );
      assert.ok(err instanceof Error);
      assert.equal(err.code, "E_AUTH");
      assert.match(err.message, /401/);
      assert.doesNotMatch(err.message, /wrong/, "the key is not in the message");
      assertAddsUp(err.summary);
      assert.equal(err.summary.sent, 0);
      const sum = await sandboxSummary(sb);
      assert.ok(sum.requests >= 1 && sum.requests <= 2, `at most the requests in flight (${sum.requests})`);
      assert.equal(sum.byStatus["401"], sum.requests);
      assert.equal(sum.track.people + sum.pipelines.people, 0);
    });
  }

  test("AbortSignal stops the run with E_ABORTED; unsent rows end failed", async () => {
    const slow = await startSandbox({ port: 0, faults: { latencyMs: 150 } });
    try {
      const { text } = makeCsv("people", 3000);
      const imp = importer(slow, "track", "people", { batchBytes: 5000, concurrency: 1 });
      const ac = new AbortController();
      const err = await imp
        .run(streamOf(enc.encode(text)), {
          signal: ac.signal,
          onProgress(p) {
            if (p.sent > 0) ac.abort();
          },
        })
        .then(
          () => assert.fail("expected E_ABORTED"),
          (e) => e,
        );
      assert.equal(err.code, "E_ABORTED");
      const s = err.summary;
      assertAddsUp(s);
      assert.ok(s.sent > 0 && s.failed > 0, JSON.stringify(s));
      assert.ok(s.rows < 3000 || s.failed > 0);
      const failed = rejectedLines(imp.takeRejectedCsv()).filter((r) => r.code === "failed");
      assert.equal(failed.length, s.failed);
      assert.ok(failed.every((r) => r.reason === "cancelled"));
      assert.equal((await storedPeople(slow, "track")).size, s.sent);
    } finally {
      await slow.close();
    }
  });

  test("a stream that fails mid-run: E_CSV after the requests out are answered; every row accounted for", async () => {
    const slow = await startSandbox({ port: 0, faults: { latencyMs: 150 } });
    try {
      const bytes = enc.encode(makeCsv("people", 6000).text);
      let sent = 0;
      let requestsOut;
      const out = new Promise((r) => (requestsOut = r));
      // Two thirds of the file, then, once requests are out, the stream breaks (a disk or network read failing).
      const stream = new ReadableStream({
        async pull(c) {
          if (sent >= (bytes.length * 2) / 3) {
            await out;
            return c.error(new Error("Disk Gone"));
          }
          c.enqueue(bytes.slice(sent, sent + 4096));
          sent += 4096;
        },
      });
      const imp = importer(slow, "track", "people", { batchBytes: 5000, concurrency: 4 });
      const err = await imp
        .run(stream, { onProgress: (p) => p.requests >= 3 && requestsOut() })
        .then(
          () => assert.fail("expected E_CSV"),
          (e) => e,
        );
      assert.equal(err.code, "E_CSV");
      assert.match(err.message, /^reading the file failed: disk gone/);
      const s = err.summary;
      assertAddsUp(s);
      assert.equal(s.pending, 0, "no row left in flight: the answers were awaited");
      assert.ok(s.sent > 0, JSON.stringify(s));
      assert.equal((await storedPeople(slow, "track")).size, s.sent, "what the summary calls sent is stored");
      const failed = rejectedLines(imp.takeRejectedCsv()).filter((r) => r.code === "failed");
      assert.equal(failed.length, s.failed);
    } finally {
      await slow.close();
    }
  });

  test("run() settles when the rate limiter makes it wait on timers that fire early", { timeout: 20_000 }, async () => {
    // Node's timers fire up to ~2 ms before Date.now() reaches their time. Make every timer fire 3 ms early: the run
    // loop must re-arm, not wait for a wake-up that never comes (it did: the command line then exited 0 mid-run).
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    const { text, good } = makeCsv("people", 300, { badEvery: 1e9 });
    const imp = importer(sb, "track", "people", { batchBytes: 1000, concurrency: 1, rateLimit: 40 });
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = (cb, ms, ...args) => realSetTimeout(cb, Math.max(0, (ms ?? 0) - 3), ...args);
    let s;
    try {
      s = await imp.run(streamOf(enc.encode(text)));
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    assert.equal(s.sent, good.length);
    assert.ok(s.requests >= 40, `many rate-limited requests (${s.requests})`);
  });

  test("configuration errors are E_CONFIG and name the problem", () => {
    const cases = [
      [{ api: "track", kind: "people", credentials: CREDS.track, bogusOption: 1 }, /bogusOption/],
      [{ api: "track", kind: "people", credentials: CREDS.track, region: "mars" }, /region/],
      [{ api: "track", kind: "people", credentials: CREDS.track, endpoint: "ftp://x" }, /endpoint/],
      [{ api: "track", kind: "people" }, /credentials/],
      [{ api: "pipelines", kind: "people" }, /credentials/],
      [{ api: "track", kind: "people", credentials: CREDS.track, concurrency: 0 }, /concurrency/],
      [{ api: "track", kind: "people", credentials: CREDS.track, batchBytes: 10 }, /batch size/],
      [{ api: "track", kind: "people", credentials: CREDS.track, transport: "write-key" }, /pipelines/],
      [{ api: "email", kind: "people" }, /api|variant/],
    ];
    for (const [opts, re] of cases) {
      assert.throws(
        () => new Importer(opts),
        (e) => e instanceof Error && e.code === "E_CONFIG" && re.test(e.message) && e.message[0] === e.message[0].toLowerCase(),
        JSON.stringify(opts),
      );
    }
  });

  test("E_CSV and E_MAPPING come from push and from run", async () => {
    const imp = new Importer({ api: "track", kind: "people", dryRun: true });
    assert.throws(
      () => {
        imp.push(new Uint8Array([0x50, 0x4b, 3, 4, ...new Array(2000).fill(0)]));
        imp.finish();
      },
      (e) => e.code === "E_CSV",
    );
    const imp2 = importer(sb, "track", "events");
    const err = await imp2.run(streamOf(enc.encode("colour,size\nred,1\n"))).then(
      () => assert.fail("expected E_MAPPING"),
      (e) => e,
    );
    assert.equal(err.code, "E_MAPPING");
    assert.ok(err.summary);
  });

  test("pipelines write-key transport (what a browser uses) works from node too", async () => {
    await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
    const { text, good } = makeCsv("events", 200);
    const imp = importer(sb, "pipelines", "events", { transport: "write-key" });
    const s = await imp.run(streamOf(enc.encode(text)));
    assert.equal(s.sent, good.length);
    await assertStoredExactly(sb, "pipelines", "events", good);
  });
});

describe("package (browser entry, in node)", () => {
  // A child process, so that the wasm module is not already loaded by the node entry.
  test("index.js: init({ module_or_path: bytes }) then the Importer works; ready is the same load", () => {
    const script = `
      import fs, { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
      import { init, ready, Importer, version } from ${JSON.stringify(new URL("index.js", PKG).href)};
      const bytes = readFileSync(new URL("wasm/cio_backfill_bg.wasm", ${JSON.stringify(PKG.href)}));
      const p = init({ module_or_path: bytes });
      if (init() !== p) throw new Error("init is not idempotent");
      await ready;
      const imp = new Importer({ api: "pipelines", kind: "people", dryRun: true, keepPayloads: true });
      imp.push(new TextEncoder().encode("id,name\\n1,Ada\\n2,Grace\\n"));
      imp.finish();
      const first = JSON.parse(imp.takePayloads().split("\\n")[0]);
      console.log(JSON.stringify({ unsent: imp.summary().unsent, userId: first.userId, type: first.type, version: version() }));
    `;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), { unsent: 2, userId: "1", type: "identify", version: version() });
  });

  test("index.js: awaiting ready without init fetches the wasm next to the module (fails cleanly on file: in node)", () => {
    const script = `
      import { ready } from ${JSON.stringify(new URL("index.js", PKG).href)};
      try { await ready; console.log("loaded"); } catch (e) { console.log("rejected"); }
    `;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim();
    assert.ok(out === "loaded" || out === "rejected", out);
  });
});

const MINIFLARE = new URL("../../node_modules/miniflare/dist/src/index.js", import.meta.url);

describe("package (workerd entry, in workerd via Miniflare)", { skip: !fs.existsSync(MINIFLARE) && "miniflare is not installed (npm ci)" }, () => {
  test("workerd.js: a dry run, and a real send from workerd to the sandbox", async () => {
    const { Miniflare } = await import(MINIFLARE.href);
    const sb = await startSandbox({ port: 0 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-workerd-"));
    let mf;
    try {
      fs.cpSync(fileURLToPath(PKG), dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, "worker.mjs"),
        `import { Importer, ready, version } from "./workerd.js";
        export default {
          async fetch(req, env) {
            await ready;
            const csv = "id,name\\n1,Ada\\n,Nobody\\n2,Grace\\n";
            const dry = new Importer({ api: "track", kind: "people", dryRun: true, keepPayloads: true });
            const d = await dry.run(new Response(csv).body);
            const first = JSON.parse(dry.takePayloads().split("\\n")[0]);
            const imp = new Importer({ api: "pipelines", kind: "people", endpoint: env.SANDBOX_URL, credentials: { apiKey: "cdp_key_test" } });
            const s = await imp.run(new Response(csv).body);
            return Response.json({ version: version(), dry: d, first, sent: s });
          },
        };`,
      );
      mf = new Miniflare({
        modules: true,
        scriptPath: path.join(dir, "worker.mjs"),
        modulesRoot: dir,
        modulesRules: [
          { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
          { type: "CompiledWasm", include: ["**/*.wasm"] },
        ],
        bindings: { SANDBOX_URL: sb.url },
      });
      const res = await mf.dispatchFetch("http://localhost/");
      const out = await res.json();
      assert.equal(res.status, 200);
      assert.equal(out.version, version());
      assert.equal(out.dry.unsent, 2);
      assert.equal(out.dry.rejected, 1);
      assert.deepEqual(out.first.identifiers, { id: "1" });
      assert.equal(out.sent.sent, 2);
      const people = await storedPeople(sb, "pipelines");
      assert.deepEqual([...people.keys()].sort(), ["1", "2"]);
    } finally {
      if (mf) await mf.dispose();
      await sb.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
