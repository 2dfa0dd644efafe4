// Import people and events through both APIs against the local Customer.io sandbox, in Debian's Chromium.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, connect, chooseFile, waitForColumns, fact, runCheck, startSending, waitForSummary, download,
  csvObjects, shot, shotOf, sandboxJson, tmpDir } from "./harness.mjs";
import * as fx from "./fixtures.mjs";

const dir = tmpDir("import");

test("people, messy file (BOM, ;, CRLF, quoted newlines, bad rows) → Track API", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, sb } = env;
  const f = fx.messyPeople(dir);

  await shot(page, "01-connect");
  await connect(page, { api: "track" });
  // the key is not left in the DOM after entry
  assert.equal(await page.inputValue("#api-key"), "");
  assert.ok(!(await page.content()).includes("track_key_test"));
  await shot(page, "02-file");

  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  assert.match(await fact(page, "encoding"), /UTF-8 with byte-order mark/);
  assert.match(await fact(page, "delimiter"), /semicolon/);
  assert.match(await fact(page, "line-endings"), /CRLF/);
  // the identifier was matched
  assert.equal(await page.locator('select[data-col="id"]').inputValue(), "id");
  // the preview shows the quoted newline inside one cell
  assert.ok((await page.locator("#preview-wrap").textContent()).includes("likes\nsnow"));
  await shot(page, "03-columns");
  await shotOf(page, "#step-columns", "03b-columns-card");

  const counts = await runCheck(page);
  assert.deepEqual({ rows: counts.rows, valid: counts.valid, rejected: counts.rejected }, { rows: f.rows, valid: f.valid.length, rejected: f.badLines.length });
  // the issues table lists the bad lines
  // (the table fetches its rows from the engine worker: wait until they are filled in, not placeholders)
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll("#issues .vt-spacer .vt-row:not([hidden]) .vt-cell.num")];
    return cells.length > 0 && cells.every((c) => /^\d+$/.test(c.textContent.trim()));
  });
  const lines = await page.locator("#issues .vt-spacer .vt-row:not([hidden]) .vt-cell.num").allTextContents();
  for (const l of f.badLines) assert.ok(lines.includes(String(l)), `issue on line ${l} listed (${lines})`);
  await page.locator("#payloads summary").click();
  assert.match(await page.locator("#payload-json").textContent(), /"identifiers"/);
  await shot(page, "04-check");
  await shotOf(page, "#step-check", "04b-check-card");

  await startSending(page);
  const s = await waitForSummary(page);
  await shot(page, "05-summary");
  await shotOf(page, "#step-send", "05b-send-card");
  assert.equal(s.sent, f.valid.length);
  assert.equal(s.rejected, f.badLines.length);
  assert.equal(s.failed, 0);
  assert.match(await page.locator("#summary-check").textContent(), /Every row is accounted for/);

  // the sandbox got exactly the valid people
  const people = await sandboxJson(sb, "/__sandbox/people?api=track");
  assert.deepEqual(people.map((p) => p.identifiers.id).sort(), [...f.valid].sort());
  const ann = people.find((p) => p.identifiers.id === "1001");
  assert.equal(ann.attributes.note, "likes\nsnow");
  assert.equal(people.find((p) => p.identifiers.id === "1002").attributes.name, "Bob; Jr.");

  // the rejected CSV lists exactly the bad lines, formula-safe
  const dl = await download(page, "#download");
  assert.match(dl.name, /people-messy-rejected/);
  const rej = csvObjects(dl.text);
  assert.deepEqual(rej.map((r) => Number(r.line)), f.badLines);
  for (const r of rej) assert.equal(r.code, f.badCodes[r.line]);
  const noId = rej.find((r) => r.code === "id_missing");
  assert.equal(noId.note, "'=1+2", "a formula cell is written as text");
  assert.deepEqual(page.errors, []);
});

test("events → Pipelines API: change a mapping (ignore a column), skip the 72-hour window", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, sb } = env;
  const f = fx.events(dir);

  await connect(page, { api: "pipelines" });
  await chooseFile(page, f.file, "events");
  await waitForColumns(page);
  assert.match(await fact(page, "delimiter"), /comma/);
  // auto-matched roles
  assert.equal(await page.locator('select[data-col="user_id"]').inputValue(), "id");
  assert.equal(await page.locator('select[data-col="event"]').inputValue(), "event");
  assert.equal(await page.locator('select[data-col="occurred_at"]').inputValue(), "timestamp");
  assert.equal(await page.inputValue("#ts-column"), "occurred_at");
  // change the mapping: do not send internal_note; amount is a decimal number
  await page.selectOption('select[data-col="internal_note"]', "ignore");
  await page.selectOption("#type-3", "float");
  await page.waitForFunction(() => document.querySelector('#mapping tr.ignored td.col')?.textContent === "internal_note");
  await shot(page, "06-events-mapping");

  const counts = await runCheck(page);
  assert.equal(counts.rows, f.rows);
  assert.equal(counts.rejected, f.badLines.length);
  assert.equal(counts.valid, f.rows - f.badLines.length);
  // the campaign-window warning, with the choice to skip those rows
  await page.locator("#window-warning").waitFor({ state: "visible" });
  assert.match(await page.locator("#window-text").textContent(), /^2 events are from the last 72 hours/);
  await page.locator("#skip-window").check();
  // the payload preview shows the exact Pipelines item, without the ignored column
  await page.locator("#payloads summary").click();
  const json = JSON.parse(await page.locator("#payload-json").textContent());
  assert.equal(json.type, "track");
  assert.equal(json.userId, "u1");
  assert.ok(!("internal_note" in (json.properties ?? {})));
  assert.equal(typeof json.properties.amount, "number");
  await shot(page, "07-events-check");

  await startSending(page);
  const s = await waitForSummary(page);
  await shot(page, "08-events-summary");
  assert.equal(s.sent, f.validOld.length);
  assert.equal(s.rejected, f.badLines.length + f.recent.length);
  assert.match(await page.locator("#summary-check").textContent(), /Every row is accounted for/);

  const evs = await sandboxJson(sb, "/__sandbox/events?api=pipelines");
  assert.deepEqual(evs.map((e) => e.userId).sort(), [...f.validOld].sort());
  for (const e of evs) assert.ok(!("internal_note" in (e.properties ?? {})), "the ignored column was not sent");
  const summary = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(summary.preflights, 0, "Pipelines from the browser sends no CORS preflight");
  assert.equal(summary.pipelines.duplicateMessages, 0);

  const rej = csvObjects((await download(page, "#download")).text);
  assert.deepEqual(rej.map((r) => Number(r.line)).sort((a, b) => a - b), [...f.badLines, ...f.recentLines].sort((a, b) => a - b));
  assert.deepEqual(rej.filter((r) => r.code === "skipped").map((r) => r.user_id).sort(), f.recent);
  assert.deepEqual(page.errors, []);
});

test("people by email → Pipelines API; a saved mapping is reused for the next file with the same headers", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, sb } = env;
  const f = fx.emailPeople(dir);

  await connect(page, { api: "pipelines" });
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  assert.equal(await page.locator('select[data-col="email"]').inputValue(), "email");
  await page.selectOption('select[data-col="score"]', "ignore");
  await page.click("#save-mapping");
  await page.waitForFunction(() => /Saved/.test(document.getElementById("mapping-status").textContent));
  await runCheck(page);
  await startSending(page);
  const s = await waitForSummary(page);
  assert.equal(s.sent, f.rows);
  const people = await sandboxJson(sb, "/__sandbox/people?api=pipelines");
  assert.equal(people.length, f.rows);
  assert.deepEqual(people.map((p) => p.userId ?? p.traits?.email).sort(), [...f.emails].sort());
  for (const p of people) assert.ok(!("score" in p.traits), "score was ignored");

  // the next file with the same headers gets the saved mapping
  const f2 = fx.emailPeople(tmpDir("import2"), 5);
  await page.click("#another");
  await chooseFile(page, f2.file, "people");
  await waitForColumns(page);
  await page.locator("#mapping-notice").waitFor({ state: "visible" });
  assert.equal(await page.locator('select[data-col="score"]').inputValue(), "ignore");
  await shot(page, "09-saved-mapping");
  assert.deepEqual(page.errors, []);
});

test("events by email → Track API: events carry deterministic ULIDs", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, sb } = env;
  const text = ["email,name,time,plan", ...Array.from({ length: 30 }, (_, i) => `e${i}@example.com,signed_up,2022-0${1 + (i % 9)}-1${i % 10}T10:00:00Z,pro`)].join("\n");
  const file = `${dir}/events-email.csv`;
  (await import("node:fs")).writeFileSync(file, text + "\n");

  await connect(page, { api: "track" });
  await chooseFile(page, file, "events");
  await waitForColumns(page);
  assert.equal(await page.locator('select[data-col="email"]').inputValue(), "email");
  // the event name comes from the "name" column
  assert.equal(await page.inputValue("#event-column"), "name");
  await runCheck(page);
  await startSending(page);
  const s = await waitForSummary(page);
  assert.equal(s.sent, 30);
  const evs = await sandboxJson(sb, "/__sandbox/events?api=track");
  assert.equal(evs.length, 30);
  for (const e of evs) {
    assert.equal(e.identifierKind, "email");
    assert.equal(e.name, "signed_up");
    assert.match(e.id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  }
  assert.deepEqual(page.errors, []);
});
