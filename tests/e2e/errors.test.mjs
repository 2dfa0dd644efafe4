// Errors for people: each says what happened and what to do.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, connect, chooseFile, waitForColumns, runCheck, startSending, waitForSummary, shot, sandboxJson, tmpDir } from "./harness.mjs";
import * as fx from "./fixtures.mjs";

const dir = tmpDir("errors");
const bad = fx.badFiles(dir);

async function alertText(page, id) {
  await page.locator(`#${id}`).waitFor({ state: "visible", timeout: 60_000 });
  return page.locator(`#${id}`).textContent();
}

test("files people pick by mistake: not a CSV, an empty file, no identifier column", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page } = env;
  await connect(page, { api: "track" });

  await chooseFile(page, bad.png, "people");
  let text = await alertText(page, "file-alert");
  assert.match(text, /This is not a CSV file/);
  assert.match(text, /PNG image/);
  assert.match(text, /What to do: .*Save as/);
  await shot(page, "20-error-not-csv");

  await chooseFile(page, bad.xlsx, "people");
  assert.match(await alertText(page, "file-alert"), /Excel workbook/);

  await chooseFile(page, bad.empty, "people");
  text = await alertText(page, "file-alert");
  assert.match(text, /This file is empty/);
  assert.match(text, /What to do:/);
  await shot(page, "21-error-empty");

  await chooseFile(page, bad.noId, "people");
  await waitForColumns(page);
  text = await alertText(page, "columns-alert");
  assert.match(text, /No column identifies the people/);
  assert.match(text, /What to do: .*Identifier/);
  await shot(page, "22-error-no-identifier");
  // fixing it in the mapping clears the error and the file checks fine
  await page.selectOption('select[data-col="first_name"]', "id");
  await page.locator("#columns-alert").waitFor({ state: "hidden" });
  const c = await runCheck(page);
  assert.equal(c.valid, 3);
  assert.deepEqual(page.errors, []);
});

test("wrong credentials (or the wrong region): the send stops and says what to check", async (t) => {
  const env = await setup();
  t.after(() => env.close());
  const { page, sb } = env;
  const f = fx.emailPeople(dir, 10);
  await connect(page, { api: "track", apiKey: "not-the-key" });
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  await runCheck(page);
  await startSending(page);
  const text = await alertText(page, "send-alert");
  assert.match(text, /Customer.io did not accept these credentials/);
  assert.match(text, /site ID and the Track API key/);
  assert.match(text, /If your workspace is in the EU region, choose EU/);
  assert.ok(!text.includes("not-the-key"), "the key is not shown");
  const s = await waitForSummary(page);
  assert.equal(s.sent, 0);
  await shot(page, "23-error-auth");
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).track.people, 0);
});

test("a browser's CORS refusal: Track (preflighted) fails with a plain explanation, Pipelines (no preflight) works", async (t) => {
  const env = await setup({ sandbox: { refusePreflight: true } });
  t.after(() => env.close());
  const { page, sb } = env;
  const f = fx.emailPeople(dir, 10);
  await connect(page, { api: "track" });
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  await runCheck(page);
  await startSending(page);
  const s = await waitForSummary(page, 240_000);
  const text = await alertText(page, "send-alert");
  assert.match(text, /Your browser could not reach Customer.io/);
  assert.match(text, /CORS/);
  assert.match(text, /Worker deployment/);
  assert.equal(s.sent, 0);
  assert.equal(s.failed, 10);
  await shot(page, "24-error-cors");

  // Pipelines sends text/plain with the key in the body: no preflight, so it works
  await page.click("#connect-change");
  await connect(page, { api: "pipelines" });
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  await runCheck(page);
  await startSending(page);
  const s2 = await waitForSummary(page);
  assert.equal(s2.sent, 10);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).pipelines.people, 10);
});

test("an endpoint the page's policy does not allow is reported at start and blocked", async (t) => {
  let env;
  env = await setup({ cspConfig: { endpoint: null, mode: "direct" } });
  t.after(() => env.close());
  const { page, sb } = env;
  const text = await alertText(page, "global-alert");
  assert.match(text, /not allowed by this page's security policy/);
  assert.match(text, /configure\.mjs/);
  const f = fx.emailPeople(dir, 5);
  await connect(page, { api: "pipelines" });
  await chooseFile(page, f.file, "people");
  await waitForColumns(page);
  await runCheck(page);
  await startSending(page);
  await waitForSummary(page, 240_000);
  assert.match(await alertText(page, "send-alert"), /security policy blocked the connection|could not reach/);
  assert.equal((await sandboxJson(sb, "/__sandbox/summary")).requests, 0, "nothing reached the endpoint");
  await shot(page, "25-error-csp");
});
