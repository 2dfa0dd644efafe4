// A large file sent as numbered chunks by js/via.mjs; a chunk sent twice never duplicates events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { secretsFor, eventsCsv, peopleCsv, sandboxJson, TOKEN, workerFixture } from "./harness.mjs";
import { importVia, CsvChunker } from "../../js/via.mjs";

const fixture = workerFixture();
const worker = fixture.worker;
const reset = fixture.reset;
const streamOf = (text, step = 10_000) => {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(c) {
      for (let o = 0; o < bytes.length; o += step) c.enqueue(bytes.slice(o, o + step));
      c.close();
    },
  });
};

/** A fetch that loses the answer of the first attempt of chunk `n` (the Worker did the work): a retry follows. */
function losingAnswerOf(n) {
  let lost = false;
  const calls = [];
  const f = async (url, init) => {
    const u = new URL(url);
    calls.push(u.searchParams.get("chunk"));
    const res = await fetch(url, init);
    if (!lost && u.searchParams.get("chunk") === String(n)) {
      lost = true;
      await res.arrayBuffer();
      throw new TypeError("fetch failed (the answer was lost)");
    }
    return res;
  };
  f.calls = calls;
  return f;
}

test("CsvChunker: chunks are self-contained, cut on record ends outside quotes, with the file's offsets", () => {
  const csv = eventsCsv(500, { quotedNewlines: true });
  const bytes = new TextEncoder().encode(csv);
  const c = new CsvChunker({ chunkBytes: 3000 });
  const chunks = [];
  for (let o = 0; o < bytes.length; o += 777) chunks.push(...c.push(bytes.subarray(o, o + 777)));
  chunks.push(...c.end());
  assert.ok(chunks.length > 5);
  const header = csv.slice(0, csv.indexOf("\n") + 1);
  let lines = 0;
  let records = 0;
  let data = "";
  for (const [i, ch] of chunks.entries()) {
    const text = new TextDecoder().decode(ch.body);
    assert.ok(text.startsWith(header));
    assert.equal(ch.index, i);
    assert.equal(ch.lineOffset, lines);
    assert.equal(ch.recordOffset, records);
    assert.equal((text.match(/"/g) ?? []).length % 2, 0, "never cut inside quotes");
    lines += ch.lines;
    records += ch.records;
    data += text.slice(header.length);
  }
  assert.equal(records, 500);
  assert.equal(header + data, csv, "the chunks put together are the file");
});

test("track (no ledger bound): chunked upload with one chunk sent twice → unique events == valid rows; file line numbers", async () => {
  await reset();
  // No ledger: Track's own deduplication by our content-addressed event ids is what makes the re-send harmless.
  const w = await worker(secretsFor("track", fixture.sb.url), { ledger: null });
  const csv = eventsCsv(3000, { bad: [5, 1500, 2999], quotedNewlines: true });
  const f = losingAnswerOf(2);
  const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "events", chunkBytes: 16 * 1024, parallel: 2, rejected: true, fetch: f });
  assert.ok(s.chunks >= 8, `chunks: ${s.chunks}`);
  assert.equal(f.calls.filter((c) => c === "2").length, 2, "chunk 2 was sent twice");
  assert.equal(s.chunkRetries, 1);
  assert.equal(s.rows, 3000);
  assert.equal(s.rejected, 3);
  assert.equal(s.failed, 0);
  assert.equal(s.checkpoint, 3000);
  assert.deepEqual(s.rejectedByCode, { event_name_missing: 3 });
  const sum = await sandboxJson(fixture.sb, "/__sandbox/summary");
  assert.equal(sum.track.events, 2997, "no duplicate events");
  assert.ok(sum.track.duplicateEvents > 0, "the re-sent chunk reached the sandbox and was deduplicated there by event id");
  // The rejected rows carry the file's line numbers (quoted newlines make lines ≠ records + 1).
  const lines = s.rejectedCsv.trim().split("\n");
  assert.equal(lines[0], "user_id,event,occurred_at,amount,note,line,code,reason");
  const fileLines = csv.split("\n");
  const rejectedLines = lines.slice(1).map((l) => Number(l.split(",")[5]));
  assert.equal(rejectedLines.length, 3);
  for (const [k, n] of [5, 1500, 2999].entries()) {
    const ts = new Date(Date.UTC(2021, 0, 1) + n * 60_000).toISOString().replace(".000", "");
    assert.ok(fileLines[rejectedLines[k] - 1].includes(ts), `line ${rejectedLines[k]} is record ${n}`);
  }
});

for (const ledger of ["do", "kv"]) {
  test(`pipelines with the ${ledger === "do" ? "Durable Object" : "KV"} ledger: a re-sent chunk is replayed, nothing sent twice`, async () => {
    await reset();
    const w = await worker(secretsFor("pipelines", fixture.sb.url), { ledger });
    const csv = eventsCsv(2000, { bad: [10] });
    const f = losingAnswerOf(1);
    const answers = [];
    const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "events", chunkBytes: 20 * 1024, parallel: 1, fetch: f, onChunk: (a) => answers.push(a) });
    assert.ok(s.chunks >= 4);
    assert.equal(s.replayedChunks, 1);
    assert.equal(answers.find((a) => a.chunk === 1).replayed, true);
    assert.equal(s.rows, 2000);
    assert.equal(s.sent, 1999);
    const sum = await sandboxJson(fixture.sb, "/__sandbox/summary");
    assert.equal(sum.pipelines.events, 1999);
    assert.equal(sum.pipelines.duplicateMessages, 0, "the replayed chunk sent nothing");
    assert.equal(sum.pipelines.rejectedBatches, 0);

    // A re-run of the whole upload (same file → same source id): every chunk is replayed.
    const before = (await sandboxJson(fixture.sb, "/__sandbox/summary")).requests;
    const again = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "events", chunkBytes: 20 * 1024, parallel: 2 });
    assert.equal(again.replayedChunks, again.chunks);
    assert.equal(again.sent, 1999);
    assert.equal((await sandboxJson(fixture.sb, "/__sandbox/summary")).requests, before, "nothing sent on the re-run");
    assert.equal(again.source, s.source);
  });
}

test("pipelines without a ledger: the re-sent chunk does go out again (what the ledger prevents)", async () => {
  await reset();
  const w = await worker(secretsFor("pipelines", fixture.sb.url), { ledger: null });
  const f = losingAnswerOf(0);
  const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(eventsCsv(500)), kind: "events", chunkBytes: 10 * 1024, fetch: f });
  assert.equal(s.replayedChunks, 0);
  const sum = await sandboxJson(fixture.sb, "/__sandbox/summary");
  assert.ok(sum.pipelines.duplicateMessages > 0, "the sandbox saw the same messageIds twice");
  assert.equal(sum.pipelines.events, 500, "(the sandbox deduplicates by messageId; Customer.io documents no such thing)");
});

test("a changed chunk is not replayed: the ledger key includes the chunk's SHA-256", async () => {
  await reset();
  const w = await worker(secretsFor("pipelines", fixture.sb.url));
  const a = await importVia({ url: w.url, token: TOKEN, stream: streamOf(peopleCsv(100)), kind: "people", source: "fixed-id" });
  assert.equal(a.replayedChunks, 0);
  const changed = peopleCsv(100).replace("Name, 50", "Name, fifty");
  const b = await importVia({ url: w.url, token: TOKEN, stream: streamOf(changed), kind: "people", source: "fixed-id" });
  assert.equal(b.replayedChunks, 0);
  assert.equal(b.sent, 100);
  const p = (await sandboxJson(fixture.sb, "/__sandbox/people?api=pipelines")).find((x) => String(x.userId) === "50");
  assert.equal(p.traits.first_name, "Name, fifty");
});

test("resume after a checkpoint: whole chunks before it are skipped, the straddling one resumes inside", async () => {
  await reset();
  const w = await worker(secretsFor("track", fixture.sb.url));
  const csv = eventsCsv(1000);
  const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "events", chunkBytes: 8 * 1024, resumeAfterRecord: 450, parallel: 3 });
  assert.equal(s.rows, 1000);
  assert.equal(s.skippedResume, 450);
  assert.equal(s.sent, 550);
  assert.equal(s.checkpoint, 1000);
  assert.equal((await sandboxJson(fixture.sb, "/__sandbox/summary")).track.events, 550);
});

test("via: a Blob (what the page has), the Worker's suggested chunk size, and a bad token", async () => {
  await reset();
  const w = await worker(secretsFor("track", fixture.sb.url));
  const s = await importVia({ url: `${w.url}/import`, token: TOKEN, file: new Blob([peopleCsv(200)]), kind: "people", params: { "dry-run": true } });
  assert.equal(s.chunks, 1);
  assert.equal(s.unsent, 200);
  await assert.rejects(
    importVia({ url: w.url, token: "nope", file: new Blob([peopleCsv(2)]), kind: "people" }),
    (e) => e.code === "E_AUTH_TOKEN" && e.status === 401,
  );
});

test("pipelines: the client hangs up mid-chunk; the Worker finishes it, and the re-sent chunk is replayed", async () => {
  await reset();
  const w = await worker(secretsFor("pipelines", fixture.sb.url));
  await fetch(`${fixture.sb.url}/__sandbox/faults`, { method: "POST", body: JSON.stringify({ latencyMs: 400 }) });
  let hungUp = false;
  const f = async (url, init) => {
    if (!hungUp && new URL(url).searchParams.get("chunk") === "0") {
      hungUp = true;
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 150);
      return fetch(url, { ...init, signal: ac.signal }); // rejects: the answer never arrives
    }
    return fetch(url, init);
  };
  const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(eventsCsv(1500)), kind: "events", chunkBytes: 200 * 1024, fetch: f });
  await fetch(`${fixture.sb.url}/__sandbox/faults`, { method: "POST", body: JSON.stringify({}) });
  assert.ok(hungUp);
  assert.equal(s.sent, 1500);
  assert.equal(s.replayedChunks, 1, JSON.stringify(s));
  const sum = await sandboxJson(fixture.sb, "/__sandbox/summary");
  assert.equal(sum.pipelines.events, 1500);
  assert.equal(sum.pipelines.duplicateMessages, 0, "nothing sent twice");
});

/** People whose `level` is a number in the file's first rows and sometimes a word later, and whose `joined` dates
 * have a day above 12 only in the first rows (so only they tell day/month order). */
function driftingPeopleCsv(n) {
  const rows = ["id,level,joined"];
  for (let i = 1; i <= n; i++) {
    const level = i > 1000 && i % 100 === 50 ? "high" : String(i);
    const day = i <= 20 ? 13 + (i % 15) : 1 + (i % 12);
    const month = 1 + ((i + 3) % 12);
    rows.push(`p${i},${level},${String(day).padStart(2, "0")}/${String(month).padStart(2, "0")}/2024`);
  }
  return rows.join("\n") + "\n";
}

test("every chunk types columns and reads dates as the file's first rows say (pinned), unlike chunks left to infer alone", async () => {
  const w = await worker(secretsFor("track", fixture.sb.url), { ledger: null });
  const csv = driftingPeopleCsv(3000);
  const stored = async () => new Map((await sandboxJson(fixture.sb, "/__sandbox/people?api=track")).map((p) => [p.identifiers.id, p.attributes]));
  const at = (d, m) => Date.UTC(2024, m - 1, d) / 1000;

  await reset();
  const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "people", chunkBytes: 16 * 1024, parallel: 2 });
  assert.ok(s.chunks >= 4, `chunks: ${s.chunks}`);
  assert.deepEqual([s.rows, s.sent, s.rejected, s.failed], [3000, 3000, 0, 0]);
  assert.deepEqual(s.pins, { delimiter: ",", encoding: "utf-8", typeHints: { level: "integer", joined: "date" }, dateOrder: "dayFirst" });
  let people = await stored();
  assert.equal(people.size, 3000);
  // p2000 is in a later chunk whose own first rows hold "high" and no day above 12.
  assert.deepEqual(people.get("p2000"), { level: 2000, joined: at(9, 12) }, "an integer, and 09/12 read day first");
  assert.deepEqual(people.get("p1050"), { level: "high", joined: at(7, 10) }, "a word in an integer column goes as text");
  assert.deepEqual(people.get("p15"), { level: 15, joined: at(13, 7) });

  // Left to infer alone (pin: false), that later chunk sends text and reads the same date month first.
  await reset();
  const alone = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "people", chunkBytes: 16 * 1024, parallel: 2, pin: false });
  assert.equal(alone.pins, undefined);
  people = await stored();
  assert.deepEqual(people.get("p2000"), { level: "2000", joined: at(12, 9) }, "what pinning prevents");
  assert.deepEqual(people.get("p15"), { level: 15, joined: at(13, 7) }, "the first chunk is the same either way");
});

test("sampleOf: the header and the first n records, cut outside quotes", async () => {
  const { sampleOf } = await import("../../js/via.mjs");
  const enc = new TextEncoder();
  const body = enc.encode('h1,h2\n1,"a\nb"\n\n2,x\r\n3,y\n');
  const dec = (b) => new TextDecoder().decode(b);
  assert.equal(dec(sampleOf(body, 6, 1)), 'h1,h2\n1,"a\nb"\n');
  assert.equal(dec(sampleOf(body, 6, 2)), 'h1,h2\n1,"a\nb"\n\n2,x\r\n', "a blank line is not a record");
  assert.equal(dec(sampleOf(body, 6, 9)), dec(body), "fewer records than n: the whole body");
});

test("fetchPins: a busy or failing probe is asked again; a refusal is final and pins nothing", async () => {
  const { fetchPins } = await import("../../js/via.mjs");
  const chunk = { body: new TextEncoder().encode("a,b\n1,2\n") };
  const answers = (...list) => {
    const calls = [];
    const f = async (url, init) => {
      calls.push({ url: new URL(url), body: new TextDecoder().decode(init.body) });
      const next = list.shift();
      if (next === "drop") throw new TypeError("fetch failed");
      return next;
    };
    f.calls = calls;
    return f;
  };
  const busy = () => new Response('{"error":{"code":"E_BUSY"}}', { status: 503, headers: { "retry-after": "0" } });
  const ok = Response.json({ dryRun: true, pins: { delimiter: ";", typeHints: { b: "integer" } } });
  const f = answers("drop", busy(), ok);
  const pins = await fetchPins({ endpoint: "http://w.test/import", token: "t", params: { kind: "people", "id-column": "a" }, chunks: [chunk], headerLength: 4, fetch: f });
  assert.deepEqual(pins, { delimiter: ";", typeHints: { b: "integer" } });
  assert.equal(f.calls.length, 3);
  assert.deepEqual(Object.fromEntries(f.calls[0].url.searchParams), { kind: "people", "id-column": "a", "dry-run": "1" }, "a dry run with the upload's parameters");
  assert.equal(f.calls[0].body, "a,b\n1,2\n");
  const refused = answers(new Response("{}", { status: 401 }));
  assert.equal(await fetchPins({ endpoint: "http://w.test/import", token: "t", params: { kind: "people" }, chunks: [chunk], headerLength: 4, fetch: refused }), null);
  assert.equal(refused.calls.length, 1, "not asked again");
});

test("the probe samples the file's first 1000 records across small chunks, as one import of the file would", async () => {
  const { fetchPins } = await import("../../js/via.mjs");
  const enc = new TextEncoder();
  const header = "id,level\n";
  // Three chunks of 400 records; record 800 (in the second chunk) is a word, so the first 1000 make level text.
  const chunks = [0, 1, 2].map((k) => {
    let t = header;
    for (let i = k * 400 + 1; i <= (k + 1) * 400; i++) t += `${i},${i === 800 ? "many" : i}\n`;
    return { body: enc.encode(t), records: 400 };
  });
  let seen = null;
  const f = async (url, init) => {
    seen = new TextDecoder().decode(init.body);
    return Response.json({ pins: { typeHints: { level: "string" } } });
  };
  await fetchPins({ endpoint: "http://w.test/import", token: "t", params: { kind: "people" }, chunks, headerLength: header.length, fetch: f });
  const lines = seen.trimEnd().split("\n");
  assert.equal(lines[0], "id,level");
  assert.equal(lines.length - 1, 1000, "the first 1000 records, from all three chunks");
  assert.equal(lines[800], "800,many");
  assert.equal(lines[1000], "1000,1000");
  assert.equal(lines.filter((l) => l === "id,level").length, 1, "one header");

  // End to end: the Worker's pins say text for level, as a single import of the file would decide.
  const w = await worker(secretsFor("track", fixture.sb.url), { ledger: null });
  await reset();
  let csv = header;
  for (let i = 1; i <= 1500; i++) csv += `p${i},${i === 800 ? "many" : i}\n`;
  const s = await importVia({ url: w.url, token: TOKEN, stream: streamOf(csv), kind: "people", chunkBytes: 4 * 1024, parallel: 2 });
  assert.ok(s.chunks >= 3, `chunks: ${s.chunks}`);
  assert.equal(s.pins.typeHints.level, "string");
  const p = (await sandboxJson(fixture.sb, "/__sandbox/people?api=track")).find((x) => x.identifiers.id === "p5");
  assert.deepEqual(p.attributes, { level: "5" }, "typed as the file's first 1000 rows say");
});
