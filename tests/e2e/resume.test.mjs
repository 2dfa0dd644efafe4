// Pause, cancel, close the tab, open the same file again and resume from the checkpoint without duplicates.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { setup, newPage, connect, chooseFile, waitForColumns, startSending, waitForSummary, download, csvObjects,
  shot, shotOf, sandboxJson, tmpDir, recordLines } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function eventsFile(dir, n, badEvery) {
  const out = ["customer_id,event,timestamp,page,ref"];
  const bad = [];
  const t0 = Date.UTC(2022, 0, 1);
  for (let i = 1; i <= n; i++) {
    const id = i % badEvery === 0 ? "" : `c${i}`;
    out.push(`${id},page_viewed,${Math.floor((t0 + i * 60_000) / 1000)},/docs/page-${i},campaign-${i % 13}`);
  }
  const text = out.join("\n") + "\n";
  const lines = recordLines(text);
  for (let i = 1; i <= n; i++) if (i % badEvery === 0) bad.push({ record: i, line: lines[i] });
  const file = `${dir}/events-resume.csv`;
  fs.writeFileSync(file, text);
  return { file, rows: n, bad, valid: n - bad.length };
}

async function live(page, key) {
  const t = await page.locator(`[data-stat="${key}"] dd`).textContent().catch(() => "0");
  return Number(t.replace(/,/g, "")) || 0;
}

test("pause stops new requests; cancel; reopen the file in a new tab and resume from the checkpoint", async (t) => {
  const env = await setup({ sandbox: { faults: { latencyMs: 600 } } });
  t.after(() => env.close());
  const { page, sb, context, web } = env;
  const f = eventsFile(tmpDir("resume"), 60_000, 7_000);

  await connect(page, { api: "track" });
  await chooseFile(page, f.file, "events");
  await waitForColumns(page);
  await startSending(page);
  // no check was run: the page asks first
  await page.locator("#send-confirm").waitFor({ state: "visible" });
  await shot(page, "10-send-unchecked");
  await page.click("#send-anyway");
  await page.locator("#pause").waitFor({ state: "visible" });

  // wait for the first confirmed rows, then pause
  await page.waitForFunction(() => Number(document.querySelector('[data-stat="sent"] dd')?.textContent.replace(/,/g, "")) > 0, null, { timeout: 30_000 });
  await page.click("#pause");
  await page.waitForFunction(() => document.getElementById("pause").textContent === "Resume");
  await sleep(1500); // requests already in flight finish (latency 600 ms)
  const r1 = (await sandboxJson(sb, "/__sandbox/summary")).requests;
  await sleep(2000);
  const r2 = (await sandboxJson(sb, "/__sandbox/summary")).requests;
  assert.equal(r2, r1, "no new request starts while paused");
  await shot(page, "11-paused");
  await shotOf(page, "#step-send", "11b-paused-card");

  await page.click("#pause"); // resume
  await sleep(700);
  await page.click("#cancel");
  const s1 = await waitForSummary(page);
  await shot(page, "12-cancelled");
  assert.ok(s1.failed > 0, "unsent rows are failed (cancelled)");
  const cp = await page.evaluate(() => {
    const k = Object.keys(localStorage).find((x) => x.startsWith("cio-backfill:v1:run:"));
    return JSON.parse(localStorage.getItem(k));
  });
  assert.equal(cp.status, "cancelled");
  assert.ok(cp.checkpoint > 0 && cp.checkpoint < f.rows, `checkpoint ${cp.checkpoint}`);
  assert.ok(!JSON.stringify(cp).includes("track_key_test"), "no credentials in the checkpoint");
  const storedBefore = (await sandboxJson(sb, "/__sandbox/summary")).track.events;
  assert.ok(storedBefore < f.valid, "the first run stopped early");

  // the tab closes; a new one opens the same file
  await page.close();
  const page2 = await newPage(context, web.url);
  await connect(page2, { api: "track" });
  await chooseFile(page2, f.file, "events");
  await page2.locator("#resume-btn").waitFor({ state: "visible" });
  assert.match(await page2.locator("#resume-offer").textContent(), new RegExp(`Rows 1 to ${cp.checkpoint.toLocaleString("en-US")} are confirmed`));
  await shot(page2, "13-resume-offer");
  await page2.click("#resume-btn");
  await page2.waitForFunction(() => /Resume sending after row/.test(document.getElementById("send").textContent));
  await sb.state.setFaults({}); // full speed now
  await page2.click("#send");
  const s2 = await waitForSummary(page2, 180_000);
  await shot(page2, "14-resumed-summary");
  assert.equal(s2.skippedResume, cp.checkpoint);
  assert.equal(s2.failed, 0);
  const badAfter = f.bad.filter((b) => b.record > cp.checkpoint);
  assert.equal(s2.rejected, badAfter.length);
  assert.equal(s2.sent, f.rows - cp.checkpoint - badAfter.length);
  assert.match(await page2.locator("#summary-check").textContent(), /Every row is accounted for/);

  // exactly the valid rows, each once (events are de-duplicated by their deterministic ULID)
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.track.events, f.valid, "every valid event stored exactly once");
  const evs = await sandboxJson(sb, "/__sandbox/events?api=track");
  assert.equal(new Set(evs.map((e) => e.id)).size, evs.length);
  assert.equal(evs.length, f.valid);
  const ids = new Set(evs.map((e) => e.identifier));
  for (const b of f.bad) assert.ok(!ids.has(""), `bad row ${b.record} not stored`);
  console.log(`# resume: checkpoint ${cp.checkpoint}, re-sent duplicates ignored by the API: ${sum.track.duplicateEvents}`);

  // the resumed run's download lists exactly the bad lines after the checkpoint
  const rej = csvObjects((await download(page2, "#download")).text);
  assert.deepEqual(rej.map((r) => Number(r.line)), badAfter.map((b) => b.line));
  assert.deepEqual(page2.errors, []);
});

test("the tab closes mid-run (no cancel): the same file opened again resumes without duplicates", async (t) => {
  const env = await setup({ sandbox: { faults: { latencyMs: 500 } } });
  t.after(() => env.close());
  const { page, sb, context, web } = env;
  const f = eventsFile(tmpDir("resume-close"), 40_000, 9_000);

  await connect(page, { api: "pipelines" });
  await chooseFile(page, f.file, "events");
  await waitForColumns(page);
  await page.click("#send");
  await page.click("#send-anyway");
  await page.waitForFunction(() => Number(document.querySelector('[data-stat="sent"] dd')?.textContent.replace(/,/g, "")) > 0, null, { timeout: 30_000 });
  await sleep(1200); // the checkpoint is saved about once a second
  await page.close(); // the tab goes away while requests are in flight

  const page2 = await newPage(context, web.url);
  await connect(page2, { api: "pipelines" });
  await chooseFile(page2, f.file, "events");
  await page2.locator("#resume-btn").waitFor({ state: "visible" });
  const cp = Number((await page2.locator("#resume-btn").textContent()).replace(/\D/g, ""));
  assert.ok(cp > 0 && cp < f.rows, `checkpoint ${cp}`);
  await page2.click("#resume-btn");
  await page2.waitForFunction(() => /Resume sending after row/.test(document.getElementById("send").textContent));
  await sb.state.setFaults({});
  await page2.click("#send");
  const s2 = await waitForSummary(page2, 180_000);
  assert.equal(s2.skippedResume, cp);
  assert.equal(s2.failed, 0);
  assert.match(await page2.locator("#summary-check").textContent(), /Every row is accounted for/);
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  // Pipelines stores events by messageId: a re-sent row has the same messageId, so nothing is stored twice
  assert.equal(sum.pipelines.events, f.valid, "every valid event stored exactly once");
  console.log(`# tab closed mid-run: checkpoint ${cp}; rows re-sent after it (same messageId): ${sum.pipelines.duplicateMessages}`);
  assert.deepEqual(page2.errors, []);
});
