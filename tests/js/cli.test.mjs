// The `cio-backfill` command line (dist/pkg/bin, `make build`) against the sandbox: faults, exit codes, dry runs,
// SIGKILL + --resume, SIGINT, and the packed tarball installed into a fresh folder.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startSandbox } from "../sandbox/server.mjs";
import { makeCsv, sandboxSummary, storedEvents, storedPeople, assertStoredExactly, rejectedLines } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = path.join(ROOT, "dist/pkg");
const CLI = path.join(PKG, "bin/cio-backfill.mjs");
const KEYS = { CIO_SITE_ID: "site_test", CIO_TRACK_API_KEY: "track_key_test", CIO_API_KEY: "cdp_key_test" };
const SECRETS = ["track_key_test", "cdp_key_test"];

let tmp;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cio-cli-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name, text) {
  const p = path.join(tmp, name);
  if (text !== undefined) fs.writeFileSync(p, text);
  return p;
}

/** Runs the CLI; resolves to { code, signal, stdout, stderr }. `onSpawn(child)` may kill it. */
function cli(args, { env = KEYS, onSpawn, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    if (onSpawn) onSpawn(child);
  });
}

function readJson(p) {
  return JSON.parse(fs.readFileSync(p, "utf8"));
}

/** rows == rejected + sent + apiRejected + failed + skippedResume (+ unsent in a dry run). */
function assertAddsUp(s) {
  assert.equal(s.rows, s.rejected + s.sent + s.apiRejected + s.failed + s.skippedResume + s.unsent, JSON.stringify(s));
  assert.equal(s.pending, 0);
}

function assertNoSecrets(...texts) {
  for (const t of texts) for (const k of SECRETS) assert.ok(!t.includes(k), "an api key was printed or written");
}

async function reset(sb, faults) {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  await fetch(`${sb.url}/__sandbox/faults`, { method: "POST", body: JSON.stringify(faults ?? {}) });
}

const FAULTS = { errorRate: 0.1, rateLimitEvery: 25, dropRate: 0.02 };
const KIND_ARGS = { people: [], events: [] };

describe("command line", () => {
  let sb;
  before(async () => {
    sb = await startSandbox({ port: 0 });
  });
  after(() => sb.close());

  test("--help, --version, no arguments", async () => {
    const h = await cli(["--help"]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /usage:\n\s+cio-backfill import FILE --kind people\|events --api track\|pipelines/);
    assert.match(h.stdout, /exit codes: 0/);
    const v = await cli(["--version"]);
    assert.equal(v.code, 0);
    const pkg = readJson(path.join(PKG, "package.json"));
    assert.equal(v.stdout.trim(), `cio-backfill ${pkg.version}`);
    // From the repo root (its private package.json has the bin), as documented.
    const root = execFileSync("npx", ["--no-install", "cio-backfill", "--version"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(root.trim(), `cio-backfill ${pkg.version}`);
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage:/);
  });

  test("over https (the http thread loads TLS for the first https request): every valid row arrives", async () => {
    // A TLS front for the sandbox with a test certificate (tests/fixtures/tls, for 127.0.0.1), which the command
    // line trusts through NODE_EXTRA_CA_CERTS, as a user behind a corporate proxy would.
    await reset(sb);
    const tls = path.join(ROOT, "tests/fixtures/tls");
    let requests = 0;
    const front = https.createServer({ key: fs.readFileSync(path.join(tls, "key.pem")), cert: fs.readFileSync(path.join(tls, "cert.pem")) }, async (req, res) => {
      requests++;
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = { "content-type": req.headers["content-type"], authorization: req.headers.authorization ?? "" };
      const r = await fetch(sb.url + req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
      res.writeHead(r.status, { "content-type": "application/json" });
      res.end(await r.text());
    });
    await new Promise((r) => front.listen(0, "127.0.0.1", r));
    try {
      const { text, good, bad } = makeCsv("people", 300, { seed: 21 });
      const endpoint = `https://127.0.0.1:${front.address().port}`;
      const args = ["import", file("tls.csv", text), "--kind", "people", "--api", "track", "--endpoint", endpoint, "--batch-bytes", "8000", "--json"];
      const r = await cli(args, { env: { ...KEYS, NODE_EXTRA_CA_CERTS: path.join(tls, "cert.pem") } });
      const s = JSON.parse(r.stdout);
      assert.equal(r.code, bad.length ? 1 : 0, r.stderr);
      assertAddsUp(s);
      assert.equal(s.sent, good.length, JSON.stringify(s));
      assert.equal(requests, s.requests, "every request went through the TLS front");
      await assertStoredExactly(sb, "track", "people", good);
      // Without the certificate trusted, the TLS handshake fails: a network error, nothing sent.
      const untrusted = await cli(args);
      assert.equal(untrusted.code, 2, untrusted.stderr);
      assert.match(untrusted.stderr, /E_NETWORK/);
      assert.match(untrusted.stderr, /self[- ]signed certificate|unable to verify/);
    } finally {
      front.close();
    }
  });

  const combos = [
    ["track", "people", 1],
    ["track", "events", 2],
    ["pipelines", "people", 3],
    ["pipelines", "events", 4],
  ];
  for (const [api, kind, seed] of combos) {
    test(`${api} ${kind} with 10% 5xx, 429 bursts and 2% dropped connections: exactly the valid rows arrive`, async () => {
      await reset(sb, { ...FAULTS, seed });
      const { text, good, bad } = makeCsv(kind, 2500, { seed });
      const input = file(`${api}-${kind}.csv`, text);
      const summaryPath = file(`${api}-${kind}.summary.json`);
      const r = await cli([
        "import", input, "--kind", kind, "--api", api, "--endpoint", sb.url,
        "--summary", summaryPath, "--batch-bytes", "8000", "--concurrency", "4", "--rate", "500", "--json",
        ...KIND_ARGS[kind],
      ]);
      assert.equal(r.code, 1, `exit 1: some rows rejected\n${r.stderr}`);
      const s = readJson(summaryPath);
      assert.deepEqual(JSON.parse(r.stdout), s, "--json prints the same summary");
      for (const k of ["rows", "valid", "rejected", "sent", "apiRejected", "failed", "requests", "retries", "warnings"]) {
        assert.equal(typeof s[k], "number", k);
      }
      assertAddsUp(s);
      assert.equal(s.rows, 2500);
      assert.equal(s.rejected, bad.length);
      assert.equal(s.sent, good.length, "every valid row sent despite the faults");
      assert.equal(s.failed + s.apiRejected, 0);
      assert.ok(s.retries > 0, "the faults made it retry");
      const sum = await sandboxSummary(sb);
      assert.ok(sum.faultsInjected.errors > 0 && sum.faultsInjected.rateLimited > 0, JSON.stringify(sum.faultsInjected));
      assert.ok(sum.faultsInjected.dropped > 0 || sum.requests < 60, "connections were dropped");
      await assertStoredExactly(sb, api, kind, good);
      // The rejected CSV: exactly the bad lines, in file order, with their codes and original cells.
      assert.equal(s.rejectedCsv, input.replace(/\.csv$/, ".rejected.csv"));
      const rej = rejectedLines(fs.readFileSync(s.rejectedCsv, "utf8"));
      assert.deepEqual(rej.map((x) => [x.line, x.code]), bad.map((b) => [b.line, b.code]));
      const byCode = {};
      for (const b of bad) byCode[b.code] = (byCode[b.code] ?? 0) + 1;
      assert.deepEqual(s.rejectedByCode, byCode);
      assert.match(r.stderr, new RegExp(`${good.length.toLocaleString("en-US")} sent, ${bad.length} rejected`));
      assertNoSecrets(r.stdout, r.stderr, fs.readFileSync(summaryPath, "utf8"));
    });
  }

  test("exit 0 when every row is sent; no rejected file is created", async () => {
    await reset(sb);
    const input = file("clean.csv", "id,name\n1,Ada\n2,Grace\n");
    const r = await cli(["import", input, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.sent, 2);
    assert.equal(s.rejectedCsv, null);
    assert.ok(!fs.existsSync(path.join(tmp, "clean.rejected.csv")));
  });

  test("--dry-run writes the payloads as NDJSON to stdout and sends nothing", async () => {
    await reset(sb);
    const { text, good, bad } = makeCsv("events", 400, { seed: 9 });
    const input = file("dry.csv", text);
    const summaryPath = file("dry.summary.json");
    const r = await cli(["import", input, "--kind", "events", "--api", "pipelines", "--dry-run", "--summary", summaryPath], { env: {} });
    assert.equal(r.code, 1, r.stderr); // there are bad rows
    const items = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(items.length, good.length);
    assert.ok(items.every((i) => i.type === "track" && i.messageId && i.timestamp));
    assert.deepEqual(items.map((i) => i.properties.note), good.map((g) => g.note));
    const s = readJson(summaryPath);
    assert.equal(s.dryRun, true);
    assert.equal(s.unsent, good.length);
    assert.equal(s.rejected, bad.length);
    assert.equal(s.payloads, "stdout");
    assert.equal((await sandboxSummary(sb)).requests, 0);
    // To a file, with --json on stdout.
    const out = file("dry.ndjson");
    const r2 = await cli(["import", input, "--kind", "events", "--api", "track", "--dry-run", "--payloads", out, "--json"], { env: {} });
    assert.equal(JSON.parse(r2.stdout).payloads, out);
    const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, good.length);
    assert.ok(lines.every((i) => i.type === "person" && i.action === "event" && /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(i.id)));
    // A clean file in a dry run exits 0.
    const clean = file("dry-clean.csv", "id,name\n1,Ada\n");
    assert.equal((await cli(["import", clean, "--kind", "people", "--api", "track", "--dry-run"], { env: {} })).code, 0);
  });

  test("exit 2: usage, configuration, file, auth, csv and mapping errors, with a code and a hint", async () => {
    const people = file("p.csv", "id,name\n1,Ada\n");
    const cases = [
      [["import", people, "--api", "track"], {}, /--kind is required/, "E_USAGE"],
      [["import", people, "--kind", "people", "--api", "email"], {}, /--api: expected track or pipelines/, "E_USAGE"],
      [["import", people, "--kind", "people", "--api", "track", "--frobnicate"], {}, /unknown option '--frobnicate'/, "E_USAGE"],
      [["import", "--kind", "people", "--api", "track"], {}, /expected a file to import/, "E_USAGE"],
      [["import", people, "--kind", "people", "--api", "track", "--rate", "fast"], {}, /--rate: expected a number/, "E_USAGE"],
      [["import", people, "--kind", "people", "--api", "track", "--column", "name=colour"], {}, /--column name: expected one of/, "E_USAGE"],
      [["frobnicate"], {}, /unknown command "frobnicate"/, "E_USAGE"],
      [["import", path.join(tmp, "missing.csv"), "--kind", "people", "--api", "track"], KEYS, /cannot read .*missing\.csv: no such file/, "E_FILE"],
      [["import", people, "--kind", "people", "--api", "track"], {}, /the track api needs a site id and a track api key/, "E_CONFIG"],
      [["import", people, "--kind", "people", "--api", "pipelines"], { CIO_SITE_ID: "x" }, /needs the source's api key/, "E_CONFIG"],
      [["import", people, "--kind", "people", "--api", "track", "--endpoint", "ftp://nope"], KEYS, /endpoint/, "E_CONFIG"],
      [["import", people, "--kind", "people", "--api", "track", "--region", "mars"], KEYS, /--region: expected us or eu/, "E_USAGE"],
      [["import", people, "--kind", "people", "--api", "track", "--endpoint", "SB"], { ...KEYS, CIO_TRACK_API_KEY: "nope" }, /the api refused the credentials \(401\)/, "E_AUTH"],
      [["import", people, "--kind", "people", "--api", "pipelines", "--endpoint", "SB"], { ...KEYS, CIO_API_KEY: "nope" }, /the api refused the credentials \(401\)/, "E_AUTH"],
      [["import", file("zip.csv", Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0])), "--kind", "people", "--api", "track", "--endpoint", "SB"], KEYS, /binary data/, "E_CSV"],
      [["import", file("noid.csv", "colour,size\nred,1\n"), "--kind", "people", "--api", "track", "--endpoint", "SB"], KEYS, /no identifier column/, "E_MAPPING"],
      [["import", people, "--kind", "people", "--api", "track", "--id-column", "nope", "--endpoint", "SB"], KEYS, /nope/, "E_MAPPING"],
    ];
    for (const [args, env, re, code] of cases) {
      const r = await cli(args.map((a) => (a === "SB" ? sb.url : a)), { env });
      assert.equal(r.code, 2, `${args.join(" ")}\n${r.stderr}`);
      const m = /cio-backfill: error: (.*) \[(E_[A-Z]+)\]\n/.exec(r.stderr);
      assert.ok(m, `error line in: ${r.stderr}`);
      assert.match(m[1], re, r.stderr);
      assert.equal(m[2], code, r.stderr);
      assert.equal(m[1][0], m[1][0].toLowerCase(), "lowercase message");
      assertNoSecrets(r.stdout, r.stderr);
    }
  });

  test("warnings are counted by code and the first of each is shown: the rows are still sent", async () => {
    await reset(sb);
    const f = file("after-quote.csv", 'id,name,note\n1,"Bob" Smith,x\n2,Di,y\n3,Cy,"a"b\n');
    const summaryPath = path.join(tmp, "after-quote.summary.json");
    const r = await cli(["import", f, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--summary", summaryPath], { env: KEYS });
    assert.equal(r.code, 0, r.stderr);
    const s = readJson(summaryPath);
    assert.deepEqual([s.rows, s.sent, s.rejected, s.warnings], [3, 3, 0, 2]);
    assert.deepEqual(s.warningsByCode, { text_after_quote: 2 });
    assert.deepEqual(
      { ...s.firstWarnings.text_after_quote, message: undefined },
      { line: 2, column: "name", message: undefined },
    );
    assert.match(s.firstWarnings.text_after_quote.message, /read as "Bob Smith"/);
    assert.match(r.stderr, /2 rows with warnings/);
    assert.match(r.stderr, /text_after_quote 2, first on line 2, column "name": expected a delimiter/);
    const people = await storedPeople(sb, "track");
    assert.deepEqual([people.size, people.get("1")?.name, people.get("3")?.note], [3, "Bob Smith", "ab"]);
  });

  test("a quote never closed: at the end of the file its row is rejected; one that runs on stops the run with E_CSV", async () => {
    await reset(sb);
    const eof = file("eof-quote.csv", 'id,name\n1,Ada\n2,"unterminated\n3,c\n');
    const r = await cli(["import", eof, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--json"], { env: KEYS });
    assert.equal(r.code, 1, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.deepEqual([s.rows, s.sent, s.rejected, s.rejectedByCode], [2, 1, 1, { unclosed_quote: 1 }]);
    assert.deepEqual(rejectedLines(fs.readFileSync(path.join(tmp, "eof-quote.rejected.csv"), "utf8")).map((x) => [x.line, x.code]), [[3, "unclosed_quote"]]);

    const lines = ["id,name", "1,Ada", '2,"never closed'];
    for (let i = 0; i < 600_000; i++) lines.push(`${i},row`);
    const runaway = file("runaway-quote.csv", lines.join("\n") + "\n");
    const r2 = await cli(["import", runaway, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--json"], { env: KEYS });
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /error: expected records of at most 4 MiB, found a longer one starting on line 3: a quote is probably not closed .*\[E_CSV\]\n/);
    assert.match(r2.stderr, /hint: close that field's quote/);
    const s2 = JSON.parse(r2.stdout);
    assert.equal(s2.rows, 1, "the row before it is accounted for");
    assert.equal(s2.rows, s2.sent + s2.rejected + s2.apiRejected + s2.failed);

    // The hint follows the error's reason, not its wording: a line of too many fields gets its own.
    const wide = file("wide.csv", `id,name\n1,Ada\n${",".repeat(100_000)}\n2,Bo\n`);
    const r3 = await cli(["import", wide, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--json"], { env: KEYS });
    assert.equal(r3.code, 2, r3.stderr);
    assert.match(r3.stderr, /error: expected records of at most 100000 fields, found more in the one starting on line 3 \[E_CSV\]\n/);
    assert.match(r3.stderr, /hint: check that line, and the delimiter/);
    assert.doesNotMatch(r3.stderr, /close that field's quote/);
  });

  test("credentials never reach the summary, the rejected file or the state file", async () => {
    await reset(sb);
    const { text } = makeCsv("people", 200);
    const input = file("secret.csv", text);
    const state = file("secret.state.json");
    const summaryPath = file("secret.summary.json");
    const r = await cli(["import", input, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--site-id", "site_test", "--api-key", "track_key_test", "--resume", state, "--summary", summaryPath], { env: {} });
    assert.equal(r.code, 1, r.stderr);
    assertNoSecrets(r.stdout, r.stderr, ...[state, summaryPath, path.join(tmp, "secret.rejected.csv")].map((p) => fs.readFileSync(p, "utf8")));
  });

  for (const [api, kind] of [
    ["track", "events"],
    ["pipelines", "events"],
    ["track", "people"],
  ]) {
    test(`SIGKILL mid-run, then --resume (${api} ${kind}): nothing lost, nothing listed twice, no duplicate events`, async () => {
      await reset(sb, { seed: 5, errorRate: 0.05, rateLimitEvery: 40, dropRate: 0.02, latencyMs: [15, 40] });
      const { text, good, bad } = makeCsv(kind, 3000, { seed: 21 });
      const input = file(`kill-${api}-${kind}.csv`, text);
      const state = file(`kill-${api}-${kind}.state.json`);
      const summaryPath = file(`kill-${api}-${kind}.summary.json`);
      const args = ["import", input, "--kind", kind, "--api", api, "--endpoint", sb.url, "--resume", state, "--summary", summaryPath, "--batch-bytes", "3000", "--concurrency", "2"];
      let killedAt = null;
      const first = await cli(args, {
        onSpawn(child) {
          const poll = setInterval(() => {
            try {
              const st = readJson(state);
              if (st.checkpoint > 300) {
                killedAt = st.checkpoint;
                child.kill("SIGKILL");
                clearInterval(poll);
              }
            } catch {}
          }, 20);
          child.on("close", () => clearInterval(poll));
        },
      });
      assert.equal(first.signal, "SIGKILL", `killed mid-run (exit ${first.code}): ${first.stderr}`);
      assert.ok(killedAt > 0);
      const st = readJson(state);
      assert.ok(st.checkpoint >= killedAt && st.checkpoint < 3000, `a checkpoint mid-file (${st.checkpoint})`);
      assert.equal(st.complete, false);
      const second = await cli(args);
      assert.equal(second.code, 1, second.stderr); // the file has bad rows
      const s = readJson(summaryPath);
      assertAddsUp(s);
      assert.equal(s.skippedResume, st.checkpoint);
      assert.equal(s.resume.resumedFrom, st.checkpoint);
      assert.equal(s.resume.complete, true);
      assert.equal(s.total.rows, 3000);
      assert.equal(s.total.sent, good.length);
      assert.equal(s.total.rejected, bad.length);
      assert.equal(s.total.failed + s.total.apiRejected, 0);
      await assertStoredExactly(sb, api, kind, good);
      if (kind === "events") {
        const events = await storedEvents(sb, api);
        assert.equal(new Set(events.map((e) => e.key)).size, good.length, "unique stored events == valid events");
      }
      const rej = rejectedLines(fs.readFileSync(path.join(tmp, `kill-${api}-${kind}.rejected.csv`), "utf8"));
      assert.deepEqual(rej.map((x) => x.line), bad.map((b) => b.line), "the rejected CSV lists each bad line once");
      // A third run finds the state complete: nothing is sent again.
      const before = (await sandboxSummary(sb)).requests;
      const third = await cli(args);
      assert.equal(third.code, 1);
      assert.equal((await sandboxSummary(sb)).requests, before);
      assert.equal(readJson(summaryPath).skippedResume, 3000);
    });
  }

  test("SIGINT stops cleanly (unsent rows failed \"cancelled\", exit 1); --resume sends them", async () => {
    await reset(sb, { latencyMs: [20, 30] });
    const { text, good } = makeCsv("events", 2000, { seed: 33, badEvery: 1e9 });
    const input = file("int.csv", text);
    const state = file("int.state.json");
    const summaryPath = file("int.summary.json");
    const args = ["import", input, "--kind", "events", "--api", "track", "--endpoint", sb.url, "--resume", state, "--summary", summaryPath, "--batch-bytes", "3000", "--concurrency", "2"];
    const first = await cli(args, {
      onSpawn(child) {
        const poll = setInterval(() => {
          try {
            if (readJson(state).checkpoint > 200) {
              child.kill("SIGINT");
              clearInterval(poll);
            }
          } catch {}
        }, 20);
        child.on("close", () => clearInterval(poll));
      },
    });
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /stopping/);
    assert.match(first.stderr, /progress saved to/);
    const s1 = readJson(summaryPath);
    assertAddsUp(s1);
    assert.equal(s1.error.code, "E_ABORTED");
    assert.ok(s1.failed > 0, "rows not sent ended failed");
    assert.ok(s1.rejectedByCode.failed > 0);
    const rej = rejectedLines(fs.readFileSync(path.join(tmp, "int.rejected.csv"), "utf8"));
    assert.ok(rej.every((r) => r.code === "failed" && r.reason === "cancelled"));
    const second = await cli(args);
    assert.equal(second.code, 0, second.stderr);
    const s2 = readJson(summaryPath);
    assert.equal(s2.total.sent, good.length);
    assert.equal(s2.total.failed, 0);
    await assertStoredExactly(sb, "track", "events", good);
    assert.equal(s2.rejectedCsv, null);
    assert.ok(!fs.existsSync(path.join(tmp, "int.rejected.csv")), "the cancelled rows were sent: their rejected file is gone");
  });

  test("--resume refuses a state made for another file or other options (exit 2)", async () => {
    await reset(sb);
    const input = file("res.csv", "id,name\n1,Ada\n2,Grace\n");
    const state = file("res.state.json");
    const base = ["import", input, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--resume", state];
    assert.equal((await cli(base)).code, 0);
    const other = await cli(["import", input, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--resume", state, "--id-column", "name"]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /was made with other options \(mapping\) \[E_RESUME\]/);
    fs.appendFileSync(input, "3,Alan\n");
    const changed = await cli(base);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /is for another version of the file .* \[E_RESUME\]/);
    fs.writeFileSync(state, "{not json");
    const broken = await cli(base);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /is not a cio-backfill state file \[E_RESUME\]/);
  });

  test("a live progress line on a terminal only", { skip: !fs.existsSync("/usr/bin/script") && "needs script(1)" }, async () => {
    await reset(sb, { latencyMs: 30 });
    const { text } = makeCsv("people", 1500, { badEvery: 1e9 });
    const input = file("tty.csv", text);
    const cmd = [process.execPath, CLI, "import", input, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--batch-bytes", "2000", "--concurrency", "1"]
      .map((a) => `'${a}'`)
      .join(" ");
    // Asynchronously: the sandbox runs in this process and must keep answering.
    const out = await new Promise((resolve, reject) => {
      const child = spawn("/usr/bin/script", ["-qec", `${cmd} 1>/dev/null`, "/dev/null"], { env: { ...process.env, ...KEYS }, stdio: ["ignore", "pipe", "inherit"] });
      let text = "";
      child.stdout.setEncoding("utf8").on("data", (d) => (text += d));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
    });
    assert.match(out, /rows [\d,]+ +[\d,]+ rows\/s +\d+(\.\d)?% +(eta \d+:\d\d +)?retries \d+/);
    assert.match(out, /\r\x1b\[K/, "the line is cleared at the end");
    const piped = await cli(["import", input, "--kind", "people", "--api", "track", "--endpoint", sb.url, "--batch-bytes", "2000"]);
    assert.doesNotMatch(piped.stderr, /rows\/s +\d/, "no progress line when stderr is not a terminal");
  });

  test("reads standard input with FILE -", async () => {
    await reset(sb);
    const r = await cli(["import", "-", "--kind", "people", "--api", "pipelines", "--endpoint", sb.url, "--json", "--rejected", file("stdin.rejected.csv")], { input: "id,name\n1,Ada\n,Nobody\n" });
    assert.equal(r.code, 1, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.sent, 1);
    assert.equal(s.rejected, 1);
  });
});

describe("npm pack", () => {
  test("the tarball installs in a fresh folder; import and npx cio-backfill work there", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-pack-"));
    try {
      const packed = JSON.parse(execFileSync("npm", ["pack", PKG, "--json", "--pack-destination", dir], { encoding: "utf8" }));
      const tgz = path.join(dir, packed[0].filename);
      const files = packed[0].files.map((f) => f.path).sort();
      for (const f of ["bin/cio-backfill.mjs", "index.d.ts", "index.js", "node.js", "package.json", "wasm/cio_backfill.js", "wasm/cio_backfill_bg.wasm", "workerd.js"]) {
        assert.ok(files.includes(f), `${f} is in the tarball`);
      }
      const app = path.join(dir, "app");
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }));
      execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", tgz], { cwd: app, stdio: "pipe" });
      const pkg = readJson(path.join(app, "node_modules/cio-backfill/package.json"));
      assert.equal(pkg.dependencies, undefined, "no runtime dependencies");
      fs.writeFileSync(
        path.join(app, "main.js"),
        `import { ready, Importer, version } from "cio-backfill";
         import * as viaNode from "cio-backfill/node";
         await ready;
         const imp = new Importer({ api: "track", kind: "people", dryRun: true, keepPayloads: true });
         imp.push(new TextEncoder().encode("id,name\\n1,Ada\\n"));
         imp.finish();
         console.log(JSON.stringify({ version: version(), unsent: imp.summary().unsent, same: viaNode.Importer === Importer }));`,
      );
      const out = JSON.parse(execFileSync(process.execPath, ["main.js"], { cwd: app, encoding: "utf8" }));
      assert.deepEqual(out, { version: pkg.version, unsent: 1, same: true });
      const help = execFileSync("npx", ["--no-install", "cio-backfill", "--help"], { cwd: app, encoding: "utf8" });
      assert.match(help, /usage:/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
