// Test files with known answers: which rows are valid (and must reach the sandbox) and which lines are bad
// (and must be in the rejected-rows download).

import fs from "node:fs";
import path from "node:path";
import { recordLines } from "./harness.mjs";

function write(dir, name, text, { bom = false } = {}) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, (bom ? "\ufeff" : "") + text);
  return file;
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * People, the messy way: UTF-8 BOM, `;` delimiter, CRLF line ends, quoted newlines and quoted `;`, a formula in a
 * cell, and bad rows (no id, a short row, an id over 150 bytes).
 */
export function messyPeople(dir) {
  const rows = [
    ["id", "email", "name", "note", "plan", "signed_up"],
    ["1001", "ann@example.com", "Ann", "likes\nsnow", "pro", "2023-01-05T10:00:00Z"],
    ["1002", "bob@example.com", "Bob; Jr.", "plain", "free", "2023-02-01T00:00:00Z"],
    ["", "nobody@example.com", "Nobody", "=1+2", "free", "2023-01-01T00:00:00Z"],            // bad: no id
    ["1003", "cleo@example.com", "Cleo", "=HYPERLINK(\"http://x\")", "pro", "2023-03-01T08:30:00Z"],
    ["1004", "dan@example.com", "Dan"],                                                    // bad: short row
    ["1005", "eve@example.com", "Eve", "two\nline\nnote", "team", "2023-04-01T00:00:00Z"],
    ["x".repeat(151), "long@example.com", "Long", "id too long", "free", "2023-01-01T00:00:00Z"], // bad: id too long
    ["1006", "fay@example.com", "Fay", "", "pro", "2023-05-01T00:00:00Z"],
    ["1007", "gus@example.com", "Gus", "ok", "free", "2023-06-01T00:00:00Z"],
  ];
  const quote = (v) => (/[;"\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const text = rows.map((r) => r.map(quote).join(";")).join("\r\n") + "\r\n";
  const file = write(dir, "people-messy.csv", text, { bom: true });
  const lines = recordLines(text);
  const badIdx = [3, 5, 7];
  return {
    file, text,
    valid: rows.slice(1).filter((_, i) => !badIdx.includes(i + 1)).map((r) => r[0]),
    badLines: badIdx.map((i) => lines[i]),
    badCodes: { [lines[3]]: "id_missing", [lines[5]]: "field_count", [lines[7]]: "id_too_long" },
    rows: rows.length - 1,
  };
}

/**
 * Events for Pipelines: comma CSV with an internal column (to be ignored by a mapping change), two events from
 * the last hour (inside the 72-hour campaign window), and bad rows (no event name, unreadable time, no user).
 */
export function events(dir, now = Date.now()) {
  const head = ["user_id", "event", "occurred_at", "amount", "internal_note", "coupon"];
  const rows = [];
  for (let i = 1; i <= 20; i++) rows.push([`u${i}`, i % 2 ? "purchased" : "viewed_page", iso(Date.UTC(2023, 0, i, 12)), String(i * 1.5), `secret-${i}`, i % 3 ? "" : "SAVE10"]);
  rows.push(["u21", "purchased", iso(now - 3600_000), "9.99", "secret-recent-1", ""]);    // recent
  rows.push(["u22", "viewed_page", iso(now - 7200_000), "", "secret-recent-2", ""]);      // recent
  rows.push(["u23", "", iso(Date.UTC(2023, 1, 1)), "1", "secret-bad-1", ""]);             // bad: no event name
  rows.push(["u24", "purchased", "yesterday", "2", "secret-bad-2", ""]);                  // bad: timestamp
  rows.push(["", "purchased", iso(Date.UTC(2023, 1, 2)), "3", "secret-bad-3", ""]);       // bad: no user
  const all = [head, ...rows];
  const text = all.map((r) => r.join(",")).join("\n") + "\n";
  const file = write(dir, "events.csv", text);
  const lines = recordLines(text);
  return {
    file, text,
    validOld: rows.slice(0, 20).map((r) => r[0]),
    recent: ["u21", "u22"],
    recentLines: [lines[21], lines[22]],
    badLines: [lines[23], lines[24], lines[25]],
    rows: rows.length,
  };
}

/** People identified by email only (no id column), for Pipelines. */
export function emailPeople(dir, n = 40) {
  const rows = [["email", "first_name", "plan", "score"]];
  for (let i = 1; i <= n; i++) rows.push([`person${i}@example.com`, `P${i}`, i % 2 ? "pro" : "free", String(i)]);
  const text = rows.map((r) => r.join(",")).join("\n") + "\n";
  return { file: write(dir, "people-email.csv", text), emails: rows.slice(1).map((r) => r[0]), rows: n };
}

/** Many clean events (for cancel/resume and speed). */
export function manyEvents(dir, n, name = "events-many.csv") {
  const out = ["customer_id,event,timestamp,page,ref"];
  const t0 = Date.UTC(2022, 0, 1);
  for (let i = 1; i <= n; i++) out.push(`c${i % 997},page_viewed,${Math.floor((t0 + i * 60_000) / 1000)},/docs/page-${i},campaign-${i % 13}`);
  const text = out.join("\n") + "\n";
  return { file: write(dir, name, text), rows: n };
}

/** A file with `n` rows that are all bad (no id) — for the 100,000-issue table. */
export function manyIssues(dir, n) {
  const out = ["id,email,plan"];
  for (let i = 1; i <= n; i++) out.push(`,user${i}@example.com,free`);
  return { file: write(dir, "many-issues.csv", out.join("\n") + "\n"), rows: n };
}

/** Not CSV: a PNG's first bytes; an empty file; a CSV without an identifier column. */
export function badFiles(dir) {
  const png = path.join(dir, "photo.csv");
  fs.writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 0, 0, 9]));
  const xlsx = path.join(dir, "export.csv");
  fs.writeFileSync(xlsx, Buffer.from([0x50, 0x4b, 0x03, 0x04, 20, 0, 6, 0, 8, 0, 0, 0, 33, 0]));
  return {
    png, xlsx,
    empty: write(dir, "empty.csv", ""),
    noId: write(dir, "no-id.csv", "first_name,plan,score\nAnn,pro,1\nBob,free,2\nCleo,team,3\n"),
  };
}
