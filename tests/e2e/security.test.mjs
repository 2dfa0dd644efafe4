// Credentials stay out of URLs, logs, the DOM and storage (unless remembered); the policy fences connections.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, newPage, connect, chooseFile, waitForColumns, runCheck, startSending, waitForSummary, tmpDir, shot } from "./harness.mjs";
import * as fx from "./fixtures.mjs";

const dir = tmpDir("security");

test("keys: memory only by default; opt-in remember says where; never in the URL, the DOM or the console", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, context, web } = env;
  const key = "track_key_test", site = "site_test";

  // the meta policy is in place
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
  assert.match(csp, /connect-src 'self' https:\/\/track\.customer\.io https:\/\/track-eu\.customer\.io https:\/\/cdp\.customer\.io https:\/\/cdp-eu\.customer\.io http:\/\/127\.0\.0\.1:\d+/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /form-action 'none'/);
  // and it blocks any other destination, from the page and from the engine worker
  const blocked = await page.evaluate(() => fetch("https://example.org/x", { method: "POST", body: "k" }).then(() => "sent", (e) => `blocked: ${e.message}`));
  assert.match(blocked, /^blocked/);

  await connect(page, { api: "track" });
  const f = fx.emailPeople(dir, 5);
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  await runCheck(page);
  await startSending(page);
  await waitForSummary(page);
  const html = await page.content();
  assert.ok(!html.includes(key), "the key is not in the DOM");
  assert.ok(!page.url().includes(key) && !page.url().includes(site));
  const inputs = await page.evaluate(() => [...document.querySelectorAll("input")].map((i) => i.value).join("|"));
  assert.ok(!inputs.includes(key), "no input holds the key");
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!storage.includes(key), "not stored without consent");
  assert.ok(!page.consoleLines.join("\n").includes(key), "not in the console");

  // opt in: stored, and the page says where
  await page.click("#connect-change");
  await connect(page, { api: "track", remember: true });
  assert.match(await page.locator("#connect-summary").textContent(), /remembered in this browser's localStorage/);
  assert.ok((await page.evaluate(() => JSON.stringify({ ...localStorage }))).includes(key));
  // a new tab picks them up without showing them
  const page2 = await newPage(context, web.url);
  await page2.locator("#connect-done").waitFor({ state: "visible" });
  assert.ok(!(await page2.content()).includes(key));
  await shot(page2, "26-remembered");
  // forget
  await page2.click("#forget");
  assert.ok(!(await page2.evaluate(() => JSON.stringify({ ...localStorage }))).includes(key));
  assert.deepEqual(page.errors, []);
});
