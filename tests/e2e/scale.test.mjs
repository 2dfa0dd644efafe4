// Scale: a table of 100,000 issues stays fast (only visible rows exist); a 200 MB file is processed in the page
// with the tab's memory bounded and the page responsive.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { setup, connect, chooseFile, waitForColumns, runCheck, readCounts, shot, tmpDir } from "./harness.mjs";
import * as fx from "./fixtures.mjs";

const dir = tmpDir("scale");
const MB = 1024 * 1024;

test("100,000 issues: virtualised table, smooth scrolling, keyboard End reaches the last line", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page } = env;
  const f = fx.manyIssues(dir, 100_000);
  await connect(page, { api: "pipelines" });
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  const t0 = Date.now();
  const c = await runCheck(page);
  const checkMs = Date.now() - t0;
  assert.equal(c.rejected, 100_000);
  assert.match(await page.locator("#issues-count").textContent(), /^100,000 issues: 100,000 errors/);

  const perf = await page.evaluate(async () => {
    const vp = document.querySelector("#issues .vt-viewport");
    const frames = [];
    let last = performance.now();
    for (let i = 0; i < 150; i++) {
      vp.scrollTop += 11_000 + (i % 7) * 1_000; // ~330 rows a frame: far faster than any person scrolls
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    frames.sort((a, b) => a - b);
    return { rows: document.querySelectorAll("#issues .vt-spacer .vt-row").length, median: frames[75], p95: frames[142], max: frames[149] };
  });
  console.log(`# 100,000 issues: dry run ${checkMs} ms; ${perf.rows} row elements in the DOM; frame time while scrolling median ${perf.median.toFixed(1)} ms, p95 ${perf.p95.toFixed(1)} ms, max ${perf.max.toFixed(1)} ms`);
  assert.ok(perf.rows < 40, `only the visible rows exist (${perf.rows})`);
  assert.ok(perf.p95 < 50, `scrolling stays smooth (p95 ${perf.p95} ms)`);

  await page.locator("#issues .vt-viewport").focus();
  await page.keyboard.press("End");
  await page.waitForFunction(() => [...document.querySelectorAll("#issues .vt-row:not([hidden]) .vt-cell.num")].some((c) => c.textContent === "100001"), null, { timeout: 5000 });
  await shot(page, "31-100k-issues");
  // filters work on the whole set
  await page.selectOption("#issue-severity", "warning");
  await page.locator("#issues .vt-empty").waitFor({ state: "visible" });
  assert.deepEqual(page.errors, []);
});

function writeBigFile(file, bytes) {
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "id,email,first_name,last_name,plan,signed_up,score\n");
  let written = 0, i = 0;
  while (written < bytes) {
    let chunk = "";
    for (let k = 0; k < 20_000; k++, i++) chunk += `${i + 1},user${i + 1}@example.com,First${i % 977},Last${i % 991},${i % 3 ? "pro" : "free"},2023-0${1 + (i % 9)}-1${i % 10}T10:00:00Z,${i % 1000}\n`;
    fs.writeSync(fd, chunk);
    written += Buffer.byteLength(chunk);
  }
  fs.closeSync(fd);
  return i;
}

/** RSS (bytes) of this test's Chromium processes, by type; found by their --user-data-dir. */
function chromiumRss(userDataDir) {
  const out = { renderer: 0, total: 0 };
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes(userDataDir)) continue;
      const rss = Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) * 1024;
      out.total += rss;
      if (cmd.includes("--type=renderer")) out.renderer = Math.max(out.renderer, rss);
    } catch { /* gone */ }
  }
  return out;
}

test("a 200 MB file is checked in the page with bounded memory", { timeout: 900_000 }, async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, context } = env;
  const file = path.join(dir, "people-200mb.csv");
  const rows = writeBigFile(file, Number(process.env.E2E_BIG_MB ?? 200) * MB);
  const size = fs.statSync(file).size;
  t.after(() => fs.rmSync(file, { force: true }));

  await connect(page, { api: "track" });
  await chooseFile(page, file, "people");
  await waitForColumns(page);
  await new Promise((r) => setTimeout(r, 500));
  const base = chromiumRss(context.userDataDir);

  // sample memory and the page's responsiveness (the longest gap between animation frames) during the check
  await page.evaluate(() => {
    window.__gaps = { max: 0 };
    let last = performance.now();
    const tick = () => { const now = performance.now(); window.__gaps.max = Math.max(window.__gaps.max, now - last); last = now; window.__raf = requestAnimationFrame(tick); };
    window.__raf = requestAnimationFrame(tick);
  });
  let peak = { ...base };
  const timer = setInterval(() => {
    const m = chromiumRss(context.userDataDir);
    peak = { renderer: Math.max(peak.renderer, m.renderer), total: Math.max(peak.total, m.total) };
  }, 200);
  const t0 = Date.now();
  await page.click("#dry-run");
  await page.waitForFunction(() => /^Checked /.test(document.getElementById("dry-text").textContent) || !document.getElementById("check-alert").hidden, null, { timeout: 900_000, polling: 500 });
  const ms = Date.now() - t0;
  clearInterval(timer);
  const gap = await page.evaluate(() => { cancelAnimationFrame(window.__raf); return window.__gaps.max; });
  const c = await readCounts(page);
  const engineMem = Number(await page.locator("#dry-text").getAttribute("data-engine-memory"));
  await shot(page, "32-200mb-checked");
  const mb = (b) => (b / MB).toFixed(0);
  console.log(`# 200 MB file (${mb(size)} MB, ${rows.toLocaleString("en-US")} rows): checked in ${(ms / 1000).toFixed(1)} s (${(size / MB / (ms / 1000)).toFixed(1)} MB/s). ` +
    `Renderer (page + engine worker) RSS: ${mb(base.renderer)} MB before, ${mb(peak.renderer)} MB peak (+${mb(peak.renderer - base.renderer)} MB). ` +
    `Engine (wasm) memory at the end: ${mb(engineMem)} MB. All Chromium processes: ${mb(base.total)} → ${mb(peak.total)} MB peak. Longest frame gap on the page: ${gap.toFixed(0)} ms.`);
  assert.equal(c.rows, rows);
  assert.equal(c.valid, rows);
  assert.ok(peak.renderer - base.renderer < 150 * MB, `the tab's memory stays bounded (+${mb(peak.renderer - base.renderer)} MB for a ${mb(size)} MB file)`);
  assert.ok(gap < 500, `the page stays responsive (longest frame gap ${gap.toFixed(0)} ms)`);
  assert.deepEqual(page.errors, []);
});
