// The importer page, served by the Worker, in worker mode: Chromium loads it from the Worker (static assets),
// reads /config.json from the Worker, and sends the file through POST /import; the sandbox ends with every row.
// Skipped when Chromium is not installed (scripts/ci/setup.sh installs it).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ROOT, startWorker, startSandbox, secretsFor, sandboxJson, TOKEN } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const hasPage = fs.existsSync(path.join(ROOT, "www/index.html")) && fs.existsSync(path.join(ROOT, "www/pkg/cio_backfill_bg.wasm"));
const skip = !fs.existsSync(CHROMIUM) ? "no Chromium" : !hasPage ? "no www/ page (or www/pkg: run make build)" : false;

test("the page served by the Worker sends through the Worker (worker mode, import token, no keys in the browser)", { skip, timeout: 180_000 }, async (t) => {
  const e2e = await import("../e2e/harness.mjs");
  const sb = await startSandbox({ port: 0 });
  const w = await startWorker({ bindings: secretsFor("pipelines", sb.url) });
  const context = await e2e.launch();
  t.after(async () => {
    await context.close();
    await w.close();
    await sb.close();
  });
  const dir = e2e.tmpDir("worker-page");
  const n = 30_000; // ~5 MB with quoted multi-line cells: several chunks
  const lines = ["id,email,note"];
  for (let i = 1; i <= n; i++) lines.push(`${i},u${i}@example.com,"line one of ${i}\nline two, with ""quotes"" ${"x".repeat(100)}"`);
  const file = path.join(dir, "people-through-worker.csv");
  fs.writeFileSync(file, lines.join("\n") + "\n");

  const page = await e2e.newPage(context, `${w.url}/`);
  assert.equal(await page.locator("#mode-badge").textContent(), "Through the importer Worker");
  await page.fill("#import-token", TOKEN);
  await page.click("#connect-continue");
  await page.locator("input[name=api][value=pipelines]").check().catch(() => {});
  await page.locator("input[name=kind][value=people]").check();
  await page.setInputFiles("#file", file);
  await e2e.waitForColumns(page);
  await e2e.runCheck(page);
  await page.click("#send");
  const s = await e2e.waitForSummary(page);
  await page.screenshot({ path: path.join(dir, "worker-page.png") });
  assert.equal(s.sent, n, JSON.stringify(s));
  const sum = await sandboxJson(sb, "/__sandbox/summary");
  assert.equal(sum.pipelines.people, n);
  assert.equal(sum.pipelines.rejectedBatches, 0);
  assert.deepEqual(page.errors, []);
  const importRequests = sum.requests;
  assert.ok(importRequests >= 2);
});
