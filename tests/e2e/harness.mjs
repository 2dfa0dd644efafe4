// Shared helpers for the browser end-to-end tests: Debian's Chromium via playwright-core, the static page
// server, the Customer.io sandbox, screenshots, CSV parsing.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startStaticServer } from "./static-server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHOTS = path.join(here, "screenshots");
export const CREDS = { siteId: "site_test", trackKey: "track_key_test", cdpKey: "cdp_key_test" };

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"];

export async function startSandbox(opts = {}) {
  const { startSandbox: start } = await import("../sandbox/server.mjs");
  return start({ port: 0, ...opts });
}

/** A fresh browser profile (its own --user-data-dir), downloads allowed. */
export async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-e2e-profile-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...(process.env.E2E_CHROMIUM_EXTRA ? process.env.E2E_CHROMIUM_EXTRA.split(" ") : [])],
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  context.userDataDir = userDataDir;
  const close = context.close.bind(context);
  context.close = async () => { await close().catch(() => {}); fs.rmSync(userDataDir, { recursive: true, force: true }); };
  return context;
}

/** Everything a test needs: sandbox, page server pointed at it, a browser, and a page with error capture. */
export async function setup({ sandbox = {}, config = null, cspConfig = null } = {}) {
  const sb = await startSandbox(sandbox);
  const web = await startStaticServer({ config: config ?? { endpoint: sb.url, mode: "direct" }, cspConfig });
  const context = await launch();
  const page = await newPage(context, web.url);
  return {
    sb, web, context, page,
    async close() { await context.close(); await web.close(); await sb.close(); },
  };
}

export async function newPage(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.consoleLines = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => page.consoleLines.push(`${m.type()}: ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("engine-version")?.textContent !== "loading…", null, { timeout: 20_000 });
  return page;
}

let shotN = 0;
/** A full-page screenshot in tests/e2e/screenshots/. */
export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
  shotN++;
  return file;
}

/** A screenshot of one element (a step's card), for a closer look. */
export async function shotOf(page, selector, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.locator(selector).screenshot({ path: file, animations: "disabled" });
  return file;
}

export async function sandboxJson(sb, p) {
  const r = await fetch(sb.url + p);
  return r.json();
}

// ---------------------------------------------------------------- page steps
export async function connect(page, { api, region = "us", remember = false, siteId, apiKey, token } = {}) {
  await page.locator(`input[name=api][value=${api}]`).check();
  await page.locator(`input[name=region][value=${region}]`).check();
  if (token != null) await page.fill("#import-token", token);
  else {
    if (api === "track") await page.fill("#site-id", siteId ?? CREDS.siteId);
    await page.fill("#api-key", apiKey ?? (api === "track" ? CREDS.trackKey : CREDS.cdpKey));
  }
  if (remember) await page.locator("#remember").check();
  await page.click("#connect-continue");
  await page.locator("#step-file").waitFor({ state: "visible" });
}

export async function chooseFile(page, file, kind) {
  await page.locator(`input[name=kind][value=${kind}]`).check();
  await page.setInputFiles("#file", file);
}

export async function waitForColumns(page) {
  await page.locator("#mapping tbody tr").first().waitFor({ state: "visible", timeout: 20_000 });
}

export async function fact(page, key) {
  return page.locator(`[data-fact="${key}"]`).textContent();
}

export async function runCheck(page) {
  await page.click("#dry-run");
  await page.waitForFunction(() => /^Checked /.test(document.getElementById("dry-text")?.textContent ?? "")
    || !document.getElementById("check-alert").hidden, null, { timeout: 120_000 });
  return readCounts(page);
}

export async function readCounts(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll("[data-count]")].map((el) =>
    [el.dataset.count, Number(el.querySelector(".v").textContent.replace(/,/g, ""))])));
}

export async function startSending(page) {
  await page.click("#send");
}

export async function waitForSummary(page, timeout = 120_000) {
  await page.locator("#summary").waitFor({ state: "visible", timeout });
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#summary-table tr[data-row]")].map((tr) =>
    [tr.dataset.row, Number(tr.querySelector("td.v").textContent.replace(/,/g, ""))])));
}

export async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  const p = await dl.path();
  return { name: dl.suggestedFilename(), text: fs.readFileSync(p, "utf8") };
}

// ---------------------------------------------------------------- CSV
/** RFC 4180 parser (comma or another delimiter), for checking downloads. */
export function parseCsv(text, delim = ",") {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [], field = "", q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else q = false; }
      else field += c;
    } else if (c === '"') q = true;
    else if (c === delim) { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

export function csvObjects(text) {
  const [head, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

/** Physical line numbers (1-based) of each record of a CSV text we generated: `\r\n`, `\n` and `\r` each end a line. */
export function recordLines(text, delim = ",") {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out = [];
  let line = 1, start = 1, q = false, atStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (atStart) { start = line; atStart = false; }
    if (c === '"') q = !q;
    if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      line++;
      if (!q) { out.push(start); atStart = true; }
    }
  }
  if (!atStart) out.push(start);
  return out; // out[0] is the header's line
}

export function tmpDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cio-e2e-${name}-`));
}
