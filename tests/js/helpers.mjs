// Shared by the package and command-line tests: generated CSV files whose good and bad rows are known, and the
// sandbox's view of what arrived.
import assert from "node:assert/strict";

export const CREDS = {
  track: { siteId: "site_test", apiKey: "track_key_test" },
  pipelines: { apiKey: "cdp_key_test" },
};

/** A deterministic PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function csvCell(s) {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const BASE_MS = Date.UTC(2021, 0, 1);

/**
 * A people or events CSV of `n` data rows; about 3% are bad in ways the core must reject before sending.
 * Returns { text, good: [{ line, record, id, name, n, event? }], bad: [{ line, record, code }] }.
 * Every good row is distinct (so content-addressed event ids never collide).
 */
export function makeCsv(kind, n, { seed = 7, badEvery = 37, quotedNewlines = true } = {}) {
  const r = rng(seed);
  const header = kind === "people" ? ["id", "name", "plan", "score", "note"] : ["user_id", "event", "timestamp", "amount", "note"];
  const lines = [header.join(",")];
  let line = 2;
  const good = [];
  const bad = [];
  for (let i = 1; i <= n; i++) {
    const id = `u${String(i).padStart(6, "0")}`;
    const note = quotedNewlines && i % 50 === 0 ? `multi\nline, "quoted" ${i}` : `note ${i}`;
    let cells;
    let code = null;
    const badKind = i % badEvery === 0 ? Math.floor(r() * 3) : -1;
    if (kind === "people") {
      cells = [id, `Name ${i}`, ["free", "pro", "team"][i % 3], String(i), note];
      if (badKind === 0) {
        cells[0] = "";
        code = "id_missing";
      } else if (badKind === 1) {
        cells = cells.slice(0, 3);
        code = "field_count";
      } else if (badKind === 2) {
        cells[0] = "x".repeat(151);
        code = "id_too_long";
      }
    } else {
      const ts = new Date(BASE_MS + i * 60_000).toISOString().replace(".000Z", "Z");
      cells = [id, ["purchased", "signed_up", "upgraded"][i % 3], ts, (i / 100).toFixed(2), note];
      if (badKind === 0) {
        cells[0] = "";
        code = "id_missing";
      } else if (badKind === 1) {
        cells[1] = "";
        code = "event_name_missing";
      } else if (badKind === 2) {
        cells[2] = "not a date";
        code = "timestamp_invalid";
      }
    }
    const text = cells.map(csvCell).join(",");
    if (code) bad.push({ line, record: i, code });
    else good.push({ line, record: i, id, name: kind === "people" ? `Name ${i}` : cells[1], n: i, note });
    lines.push(text);
    line += text.split("\n").length;
  }
  return { text: lines.join("\n") + "\n", good, bad, header };
}

export async function getJson(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return res.json();
}

export async function sandboxSummary(sb) {
  return getJson(`${sb.url}/__sandbox/summary`);
}

/** The people stored by the sandbox for `api`, as a Map identifier -> attributes/traits. */
export async function storedPeople(sb, api) {
  const people = await getJson(`${sb.url}/__sandbox/people?api=${api}`);
  const m = new Map();
  for (const p of people) {
    if (api === "track") m.set(String(p.identifiers.id ?? p.identifiers.email ?? p.identifiers.cio_id), p.attributes);
    else m.set(String(p.userId ?? p.anonymousId), p.traits);
  }
  return m;
}

/** The events stored by the sandbox for `api` (unique by ULID / messageId). */
export async function storedEvents(sb, api) {
  const events = await getJson(`${sb.url}/__sandbox/events?api=${api}`);
  return events.map((e) =>
    api === "track"
      ? { key: e.id, user: String(e.identifier), name: e.name, props: e.attributes ?? {} }
      : { key: e.messageId, user: String(e.userId ?? e.anonymousId), name: e.event ?? e.name, props: e.properties ?? {} },
  );
}

/** Asserts that the sandbox holds exactly the good rows of a generated file (people by id, events by their note). */
export async function assertStoredExactly(sb, api, kind, good) {
  if (kind === "people") {
    const people = await storedPeople(sb, api);
    assert.equal(people.size, good.length, "unique people stored == good rows");
    for (const g of good) {
      const a = people.get(g.id);
      assert.ok(a, `person ${g.id} (line ${g.line}) stored`);
      assert.equal(a.name, g.name, `person ${g.id} name`);
    }
  } else {
    const events = await storedEvents(sb, api);
    const keys = new Set(events.map((e) => e.key));
    assert.equal(keys.size, events.length, "stored events are unique by id");
    assert.equal(events.length, good.length, "unique events stored == good rows");
    const byNote = new Map(events.map((e) => [e.props.note, e]));
    for (const g of good) {
      const e = byNote.get(g.note);
      assert.ok(e, `event of line ${g.line} stored`);
      assert.equal(e.user, g.id);
      assert.equal(e.name, g.name);
    }
  }
}

/** rows == rejected + sent + apiRejected + failed + unsent + pending + skippedResume, and valid adds up. */
export function assertAddsUp(s) {
  assert.equal(
    s.rows,
    s.rejected + s.sent + s.apiRejected + s.failed + s.unsent + s.pending + s.skippedResume,
    `summary adds up: ${JSON.stringify(s)}`,
  );
  assert.equal(s.valid + s.rejected + s.skippedResume, s.rows, "valid + rejected + skippedResume == rows");
}

/** Parses CSV text into rows of fields (quoted fields, doubled quotes, newlines inside quotes). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The (line, code) pairs of a rejected-rows CSV, in file order. */
export function rejectedLines(text) {
  const rows = parseCsv(text);
  const header = rows.shift();
  assert.deepEqual(header.slice(-3), ["line", "code", "reason"], "rejected csv header ends with line, code, reason");
  return rows.map((r) => ({ line: Number(r[r.length - 3]), code: r[r.length - 2], reason: r[r.length - 1], cells: r.slice(0, -3) }));
}

/** A ReadableStream of `bytes` in chunks of `size`. */
export function streamOf(bytes, size = 4096) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}
